import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseConfig, poolOptions } from '../../src/config/index.js';
import { call, startGateway, type RunningGateway } from './helpers.js';

/**
 * Bug: four limits the gateway's pools run with had no name in the config (DEVELOPERS: every limit
 * has a name and a default): the create timeout, failed health checks before a replacement, the
 * close timeout and leak detection. Leak detection was therefore always off, and the documented
 * `adapterpool_pool_leaks_total` could never move.
 */
describe('pool limits named in the config', () => {
  let g: RunningGateway;
  before(async () => {
    g = await startGateway(`pool: { minPoolSize: 1, leakDetection: 100ms, createTimeout: 5s, maxFailedHealthChecks: 2, closeTimeout: 1s }
usage: { enabled: false }
providers: { slow: { type: mock, mock: { latency: 400ms } } }
models: { m: { providers: [{ provider: slow, model: slow-model }] } }
`);
  });
  after(async () => {
    await g.close();
  });

  test('regression: leak detection could not be turned on; pool.leakDetection warns and counts an adapter held past it', async () => {
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(r.status, 200);
    const line = g.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'adapter_leak_suspected');
    assert.ok(line !== undefined, 'the leak warning was logged');
    assert.equal(line.key, 'slow-model:slow');
    const metrics = (await call(g.url, 'GET', '/metrics')).text;
    assert.match(metrics, /adapterpool_pool_leaks_total\{upstream_model="slow-model",provider="slow"\} 1\b/);
  });

  test('the other three reach the pool options, with their defaults when unset', () => {
    const models = 'providers: { m: { type: mock } }\nmodels: { c: { providers: [{ provider: m }] } }\n';
    const set = poolOptions(parseConfig(`pool: { createTimeout: 5s, maxFailedHealthChecks: 2, closeTimeout: 1s }\n${models}`, { env: {} }));
    assert.deepEqual([set.createTimeoutMs, set.maxFailedHealthChecks, set.closeTimeoutMs, set.leakDetectionMs], [5000, 2, 1000, 0]);
    const unset = poolOptions(parseConfig(models, { env: {} }));
    assert.deepEqual([unset.createTimeoutMs, unset.maxFailedHealthChecks, unset.closeTimeoutMs, unset.leakDetectionMs], [30_000, 3, 10_000, 0]);
  });
});
