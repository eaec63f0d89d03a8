import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FlexibleLimiter } from '../../src/routing/index.js';
import { call, errorReply, Upstream } from './helpers.js';
import { startKeyedGateway } from './keys-helpers.js';

/**
 * Regression: a client key over its own rpm made the model look failing. Its 429s were counted in the
 * model's `failed` and `error_rate` (header and model row of the dashboard, `/v1/pool/deployments`) and
 * charted in the 429 lane, "a failure the client did not cause" — an operator was sent to a healthy
 * upstream by one team's burst. They are the client's doing: counted as requests, with the 4xx, not
 * as failures. An upstream's 429 is still a failure of the model.
 */
describe('a key over its own limit is not a failure of the model', () => {
  const KEY = 'sk-team-over-its-limit';
  const OPS = 'sk-ops-without-limits';
  let up: Upstream;
  let g: Awaited<ReturnType<typeof startKeyedGateway>>;
  before(async () => {
    up = await Upstream.start();
    up.onChat = (r) => errorReply(r.res, 429, 'upstream is busy', { 'retry-after': '0' });
    g = await startKeyedGateway(
      `auth:
  keys:
    - { name: team, key: "${KEY}", rpm: 2 }
    - { name: ops, key: "${OPS}" }
routing: { maxAttempts: 1, maxAttemptsPerDeployment: 1, maxRetryAfter: 0s }
providers:
  m: { type: mock }
  loop: { type: openai-compatible, baseUrl: "${up.url}" }
models:
  chat: { providers: [{ provider: m, model: mock-chat }] }
  busy: { providers: [{ provider: loop, model: up-model }] }
`,
      { limiter: new FlexibleLimiter({ windowMs: 60_000 }) },
    );
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('the key limit 429s count as requests and 4xx, never in failed or error_rate; the upstream 429 does', async () => {
    const body = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi' }] });
    const chat = [];
    for (let i = 0; i < 5; i++) chat.push((await call(g.url, 'POST', '/v1/chat/completions', { key: KEY, body: body('chat') })).status);
    assert.deepEqual(chat, [200, 200, 429, 429, 429]);
    // The same status from the upstream is a failure of the model.
    const busy = await call(g.url, 'POST', '/v1/chat/completions', { key: OPS, body: body('busy') });
    assert.equal(busy.status, 429);
    assert.equal(busy.json.error.code, 'upstream_rate_limited');

    const d = await call(g.url, 'GET', '/v1/pool/deployments', { key: OPS });
    assert.equal(d.status, 200);
    const row = (name: string) => d.json.data.models.find((m: { name: string }) => m.name === name);
    const chatRow = row('chat');
    assert.equal(chatRow.requests, 5);
    assert.equal(chatRow.ok, 2);
    assert.equal(chatRow.failed, 0, 'the key over its own rpm is not a failure of the model');
    assert.equal(chatRow.error_rate, 0);
    assert.equal(chatRow.window.failed, 0);
    assert.equal(chatRow.window.error_rate, 0);
    const busyRow = row('busy');
    assert.equal(busyRow.failed, 1, "the upstream's 429 is");
    assert.equal(busyRow.error_rate, 1);

    const h = await call(g.url, 'GET', '/v1/pool/history', { key: OPS });
    assert.equal(h.status, 200);
    const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const chatLanes = h.json.data.models.chat.requests_per_s as Record<string, number[]>;
    assert.equal(total(chatLanes['429']!), 0, 'the 429 lane is for limits the client did not cause');
    assert.ok(total(chatLanes['4xx']!) > 0, 'the key limit 429s are charted with the 4xx');
    assert.ok(total((h.json.data.models.busy.requests_per_s as Record<string, number[]>)['429']!) > 0, "the upstream's 429 is in the 429 lane");
    assert.equal(h.json.data.all.totals.requests, 6);
    assert.equal(h.json.data.all.totals.failed, 1, "the gateway's failures: the upstream's 429 alone");
  });
});
