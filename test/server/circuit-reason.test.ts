import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, errorReply, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * Bug: one upstream 401 opens the deployment's circuit at once (a refused key fails every request
 * alike), and from then on the model answered only "no deployment of m is available; retry after
 * 30 s" — a client saw an overload, the operator's `circuit_open` line said nothing of why, and the
 * upstream's refusal was visible on the first request alone. The reason now travels with the circuit.
 */

const PROVIDER_KEY = 'sk-provider-secret-4711';

describe('an open circuit says why', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    // Echoes the key, as OpenAI's own 401 does: it must not reach a reason.
    up.onChat = (r) => errorReply(r.res, 401, `Incorrect API key provided: ${PROVIDER_KEY}`);
    g = await startGateway(`routing: { maxAttempts: 1, circuitCooldown: 5m }
pool: { minPoolSize: 1, maxPoolSize: 2, cleanupInterval: 1h, healthCheckInterval: 1h }
usage: { enabled: false }
providers:
  up: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "${PROVIDER_KEY}" }
models:
  m: { providers: [{ provider: up, model: up-model }] }
`);
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('regression: after an upstream 401 the 503 said only "no deployment is available"; it names the deployment and the refusal, the circuit_open line and /v1/pool/deployments too, never the key', async () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    const first = await call(g.url, 'POST', '/v1/chat/completions', { body });
    assert.equal(first.status, 502);
    assert.equal(first.json.error.code, 'upstream_auth_failed');

    const second = await call(g.url, 'POST', '/v1/chat/completions', { body });
    assert.equal(second.status, 503);
    assert.equal(second.json.error.code, 'no_deployment_available');
    const message: string = second.json.error.message;
    // The kind of failure only: the upstream's own words (here its 401 message) stay with the operator.
    assert.match(message, /^no deployment of m is available; retry after \d+ s \(circuit open after up-model:up: 401 auth\)$/);
    assert.ok(!message.includes('Incorrect API key'), message);

    const open = g.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'circuit_open');
    assert.ok(open, 'a circuit_open line');
    assert.match(String(open.reason), /^401 auth: /);

    const rows = (await call(g.url, 'GET', '/v1/pool/deployments')).json.data.deployments as Array<{ key: string; circuit: string; last_failure: string | null }>;
    const row = rows.find((d) => d.key === 'up-model:up')!;
    assert.equal(row.circuit, 'open');
    assert.equal(row.last_failure, open.reason);

    for (const text of [message, String(open.reason), String(row.last_failure), g.logs.join('\n')]) assert.ok(!text.includes(PROVIDER_KEY), `no provider key in: ${text.slice(0, 200)}`);
  });
});
