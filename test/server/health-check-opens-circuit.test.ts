import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, errorReply, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * Regression: README says a health check that finds every adapter of a deployment unhealthy opens its
 * circuit at once. With an upstream that refuses the gateway's key on every call (health checks
 * included), `POST /v1/pool/health-check` answered "checked 2, unhealthy 2" and the circuit stayed
 * closed: the router made a deployment's circuit at its first request, and the health check's
 * finding for a deployment nothing had been routed to yet was dropped. Requests then waited for
 * adapters that could never be made.
 */
describe('a health check that finds every adapter unhealthy opens the circuit', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    up.onChat = (r) => errorReply(r.res, 401, 'Incorrect API key provided');
    g = await startGateway(`pool: { minPoolSize: 2, maxPoolSize: 4, cleanupInterval: 1h, healthCheckInterval: 1h }
usage: { enabled: false }
providers:
  authp: { type: openai-compatible, baseUrl: "${up.url}", apiKey: k }
models:
  authbad: { providers: [{ provider: authp, model: up-auth }] }
`);
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('checked 2, unhealthy 2: the circuit is open and says why', async () => {
    up.modelsStatus = 401; // the health check is refused too, from now on
    const hc = await call(g.url, 'POST', '/v1/pool/health-check');
    assert.equal(hc.status, 200);
    const row = hc.json.data.pools['up-auth:authp'];
    assert.equal(row.checked, 2);
    assert.equal(row.unhealthy, 2);
    const deployments = (await call(g.url, 'GET', '/v1/pool/deployments')).json.data.deployments as Array<{ key: string; circuit: string; last_failure: string | null }>;
    const d = deployments.find((x) => x.key === 'up-auth:authp')!;
    assert.equal(d.circuit, 'open');
    assert.match(String(d.last_failure), /health check/);
    const started = Date.now();
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'authbad', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(r.status, 503);
    assert.equal(r.json.error.code, 'no_deployment_available');
    assert.ok(Date.now() - started < 1000, 'answered at once, not after waiting for an adapter');
  });

  // Regression: the cleanup that then removes the unhealthy adapters answered "created 2" while both
  // creates failed (the key is refused): it counted the creates it started, not the adapters made.
  test('the cleanup after it reports the adapters it made: none, when every create fails', async () => {
    const r = await call(g.url, 'POST', '/v1/pool/cleanup');
    assert.equal(r.status, 200);
    assert.equal(r.json.data.unhealthy, 2);
    assert.equal(r.json.data.created, 0);
    assert.equal(r.json.data.pools['up-auth:authp'].created, 0);
  });
});
