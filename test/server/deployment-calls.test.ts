import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, startGateway, Upstream, upstreamConfig, type RunningGateway } from './helpers.js';

const MSG = [{ role: 'user', content: 'hi' }];

describe('GET /v1/pool/deployments calls', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    // Every adapter retires after 2 loans.
    g = await startGateway(upstreamConfig(up.url, '', '{ minPoolSize: 1, maxPoolSize: 2, maxUses: 2 }'));
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('upstream_calls counted only the current adapters and went backwards when one retired (maxUses): every call since start', async () => {
    for (let i = 0; i < 7; i++) assert.equal((await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: MSG } })).status, 200);
    const r = await call(g.url, 'GET', '/v1/pool/deployments');
    assert.equal(r.status, 200);
    const row = (r.json.data.deployments as Array<{ gateway_model: string; requests: number; upstream_calls: number; success_rate: number }>).find((d) => d.gateway_model === 'up');
    assert.ok(row !== undefined, JSON.stringify(r.json.data.deployments));
    assert.equal(row.requests, 7);
    assert.equal(row.upstream_calls, 7, 'the retired adapters\' calls are still counted');
    assert.equal(row.success_rate, 1);
  });
});
