import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * Bug: an upstream's 429s counted against the deployment's circuit. On a model with one deployment,
 * five rate-limited requests in a row opened it, and for the whole circuit cooldown (30 s) every
 * request got 503 `no_deployment_available` without reaching the upstream — a 1 s rate limit became
 * a 30 s outage. A 429 is the upstream asking for time: its Retry-After (the router's throttle)
 * answers it, and the circuit stays closed.
 */
describe('upstream 429s and the circuit', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    // Volcengine Ark's per-endpoint rpm refusal, without Retry-After.
    up.onChat = (r) => {
      r.res.writeHead(429, { 'content-type': 'application/json' });
      r.res.end(JSON.stringify({ error: { code: 'RateLimitExceeded.EndpointRPMExceeded', message: 'The request has exceeded the endpoint RPM limit.', param: '', type: 'TooManyRequests' } }));
    };
    g = await startGateway(`routing: { maxAttempts: 1, circuitConsecutiveFailures: 3, circuitCooldown: 5m }
pool: { minPoolSize: 1, maxPoolSize: 2, cleanupInterval: 1h, healthCheckInterval: 1h }
usage: { enabled: false }
providers:
  ark: { type: volcengine, baseUrl: "${up.url}", apiKey: ark-key-for-tests }
models:
  m: { providers: [{ provider: ark, model: ark-rpm }] }
`);
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('regression: repeated upstream 429s opened the circuit of a one-deployment model (503 for the whole cooldown); every request reaches the upstream and gets its 429', async () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    for (let i = 0; i < 6; i++) {
      const before = up.requests.length;
      const r = await call(g.url, 'POST', '/v1/chat/completions', { body });
      assert.equal(r.status, 429, `request ${i + 1}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error.code, 'upstream_rate_limited');
      assert.ok(r.headers.get('retry-after') !== null);
      assert.equal(up.requests.length, before + 1, `request ${i + 1} reached the upstream`);
    }
    const view = await call(g.url, 'GET', '/v1/pool/deployments');
    const row = view.json.data.deployments.find((d: { key: string }) => d.key === 'ark-rpm:ark');
    assert.equal(row.circuit, 'closed');
  });
});
