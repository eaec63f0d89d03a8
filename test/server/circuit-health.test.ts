import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { call, startGateway, type RunningGateway } from './helpers.js';

/**
 * Bug: a deployment whose health checks failed had its circuit opened; cleanup replaced its
 * adapters, the upstream came back, and a manual health check found every new adapter healthy —
 * yet the circuit stayed open for its whole cooldown (503 while the pool showed 100 % health).
 * Only an adapter that was itself unhealthy and passed again let the next request probe; new ones
 * never were. Now any passing health check of the deployment does, as README says.
 */

let healthy = true;
const upstream = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.method === 'GET' && req.url?.endsWith('/models')) {
      res.writeHead(healthy ? 200 : 401, { 'content-type': 'application/json' });
      res.end(healthy ? JSON.stringify({ object: 'list', data: [{ id: 'up-model', object: 'model', created: 0, owned_by: 'up' }] }) : JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'c', object: 'chat.completion', created: 0, model: 'up-model', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
  });
});

describe('circuits and health checks', () => {
  let g: RunningGateway;
  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
    g = await startGateway(`routing: { maxAttempts: 1, circuitCooldown: 5m }
pool: { minPoolSize: 2, maxPoolSize: 2, cleanupInterval: 1h, healthCheckInterval: 1h, createRetryInitial: 20ms, createRetryMax: 50ms }
usage: { enabled: false }
providers:
  up: { type: openai-compatible, baseUrl: "${url}", apiKey: k }
models:
  m: { providers: [{ provider: up, model: up-model }] }
`);
  });
  after(async () => {
    await g.close();
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  test('a circuit opened by failing health checks stayed open after cleanup replaced the adapters and a health check passed: the next request probes, and is served', async () => {
    assert.equal((await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } })).status, 200);
    healthy = false;
    await call(g.url, 'POST', '/v1/pool/health-check');
    const circuit = async () => (await call(g.url, 'GET', '/v1/pool/deployments')).json.data.deployments.find((d: { key: string }) => d.key === 'up-model:up');
    assert.equal((await circuit()).circuit, 'open', 'every adapter unhealthy: the circuit opens');
    await call(g.url, 'POST', '/v1/pool/cleanup');
    healthy = true;
    // The replacements are made (their creates retry until the upstream answers again).
    for (let i = 0; i < 200; i++) {
      const s = (await call(g.url, 'GET', '/v1/pool/stats')).json.data.pools['up-model:up'];
      if (s.available === 2) break;
      await sleep(10);
    }
    const check = await call(g.url, 'POST', '/v1/pool/health-check');
    assert.equal(check.json.data.healthy, 2);
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(r.status, 200, r.text);
    assert.equal((await circuit()).circuit, 'closed');
  });
});
