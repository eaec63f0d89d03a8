import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricValue, parseMetrics } from '../server/keys-helpers.js';
import { reloadVia, startFileGateway } from './helpers.js';

/**
 * Regression: the adapters a reload creates for a new pool (its minPoolSize, warmed before the reload
 * answers) were not counted in `adapterpool_pool_creates_total`: the metrics learned the pool's key
 * only at the swap, after the creates. The log said 3 created, the counter said 0.
 */
const config = (extra = '') => `auth: { adminKey: admin-key-0123456789 }
providers:
  m: { type: mock }
models:
  chat: { providers: [{ provider: m, model: mock-chat }] }
${extra}`;

test('a pool added by a reload counts the adapters it warmed', async () => {
  const g = await startFileGateway(config());
  try {
    await g.write(config('  added: { providers: [{ provider: m, model: mock-added, pool: { minPoolSize: 3 } }] }'));
    assert.equal((await reloadVia(g.url, 'admin-key-0123456789')).status, 200);
    const created = g.lines().filter((l) => l.event === 'adapter_created' && String(l.key).startsWith('mock-added:')).length;
    assert.equal(created, 3, 'three adapters created, as logged');
    const m = parseMetrics(await (await fetch(`${g.url}/metrics`)).text());
    assert.equal(metricValue(m, 'adapterpool_pool_creates_total', { upstream_model: 'mock-added', provider: 'm' }), 3);
  } finally {
    await g.close();
  }
});
