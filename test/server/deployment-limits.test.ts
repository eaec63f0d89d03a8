import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FlexibleLimiter } from '../../src/routing/index.js';
import { call, Upstream } from './helpers.js';
import { metricValue, parseMetrics, startKeyedGateway } from './keys-helpers.js';

type Gw = Awaited<ReturnType<typeof startKeyedGateway>>;
const body = (extra: Record<string, unknown> = {}) => ({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('per-deployment limits', () => {
  let up: Upstream;
  let g: Gw;
  before(async () => {
    up = await Upstream.start();
    // Every answer reports 100 tokens used.
    up.onChat = (req) => {
      req.res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url.endsWith('/embeddings')) {
        req.res.end(JSON.stringify({ object: 'list', model: 'up-embed', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], usage: { prompt_tokens: 100, total_tokens: 100 } }));
        return;
      }
      req.res.end(JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'up-model', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 70, completion_tokens: 30, total_tokens: 100 } }));
    };
    g = await startKeyedGateway(
      `routing: { maxAttempts: 3 }
providers:
  a: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "k" }
  b: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "k" }
  c: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "k" }
  d: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "k" }
  e: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "k" }
models:
  chat:
    strategy: failover
    providers:
      - { provider: a, model: up-model, priority: 0, rpm: 3 }
      - { provider: b, model: up-model, priority: 1 }
  both-limited:
    strategy: failover
    providers:
      - { provider: c, model: up-model, priority: 0, rpm: 2 }
      - { provider: d, model: up-model, priority: 1, rpm: 2 }
  tokens:
    strategy: failover
    providers:
      - { provider: e, model: up-model, priority: 0, tpm: 300 }
      - { provider: b, model: up-model, priority: 1 }
  messages-tokens:
    strategy: failover
    providers:
      - { provider: e, model: msg-model, priority: 0, tpm: 300 }
      - { provider: b, model: msg-model, priority: 1 }
  embed-tokens:
    endpoints: [embeddings]
    strategy: failover
    providers:
      - { provider: e, model: up-embed, priority: 0, tpm: 300 }
      - { provider: b, model: up-embed, priority: 1 }
`,
      { limiter: new FlexibleLimiter({ windowMs: 60_000 }) },
    );
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('a deployment at its rpm is skipped and the request fails over to the next', async () => {
    const served: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call(g.url, 'POST', '/v1/chat/completions', { body: body() });
      assert.equal(r.status, 200);
      served.push(r.headers.get('x-adapterpool-deployment')!);
    }
    assert.deepEqual(served, ['up-model:a', 'up-model:a', 'up-model:a', 'up-model:b', 'up-model:b']);
    const m = parseMetrics((await call(g.url, 'GET', '/metrics')).text);
    assert.equal(metricValue(m, 'adapterpool_deployment_rate_limited_total', { upstream_model: 'up-model', provider: 'a' }), 2);
  });

  test('every deployment at its limit: 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 5; i++) {
      last = await call(g.url, 'POST', '/v1/chat/completions', { body: { ...body(), model: 'both-limited' } });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 429]);
    assert.equal(last!.json.error.code, 'deployment_rate_limited');
    const retryAfter = Number(last!.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `retry-after ${retryAfter}`);
    const hits = up.requests.length;
    assert.equal((await call(g.url, 'POST', '/v1/chat/completions', { body: { ...body(), model: 'both-limited' } })).status, 429);
    assert.equal(up.requests.length, hits, 'a refused request never reaches an upstream');
  });

  test('regression: a deployment_rate_limited failure had no error class: the model\'s failures and its errors by class did not add up', async () => {
    // Runs after the test above: both-limited has had its 429s.
    const d = await call(g.url, 'GET', '/v1/pool/deployments');
    const model = (d.json.data.models as Array<{ name: string; failed: number; window: { failed: number; errors: Record<string, number> } }>).find((m) => m.name === 'both-limited')!;
    assert.ok(model.window.failed >= 2, JSON.stringify(model));
    const byClass = Object.values(model.window.errors).reduce((a, b) => a + b, 0);
    assert.equal(byClass, model.window.failed, JSON.stringify(model.window));
    assert.equal(model.window.errors.no_deployment, model.window.failed);
  });

  test('deployment tpm: reservations corrected from the reported usage decide when it fails over', async () => {
    // Reservation ~5 + 10 = 15 tokens; each answer reports 100. By reservation twenty would fit in
    // 300; by usage three do, and the fourth goes to the next deployment.
    const served: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { ...body({ max_tokens: 10 }), model: 'tokens' } });
      assert.equal(r.status, 200);
      served.push(r.headers.get('x-adapterpool-deployment')!);
    }
    assert.deepEqual(served, ['up-model:e', 'up-model:e', 'up-model:e', 'up-model:b', 'up-model:b']);
  });

  test('regression: /v1/messages reserved no deployment tokens, so a deployment at its tpm kept serving it', async () => {
    // Same shape as the chat case: each answer reports 100 tokens, so three fit in tpm 300.
    const served: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call(g.url, 'POST', '/v1/messages', { body: { model: 'messages-tokens', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] } });
      assert.equal(r.status, 200, r.text);
      served.push(r.headers.get('x-adapterpool-deployment')!);
    }
    assert.deepEqual(served, ['msg-model:e', 'msg-model:e', 'msg-model:e', 'msg-model:b', 'msg-model:b']);
  });

  test('regression: /v1/embeddings reserved no deployment tokens, so a deployment at its tpm kept serving it', async () => {
    const served: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call(g.url, 'POST', '/v1/embeddings', { body: { model: 'embed-tokens', input: 'hello' } });
      assert.equal(r.status, 200, r.text);
      served.push(r.headers.get('x-adapterpool-deployment')!);
    }
    assert.deepEqual(served, ['up-embed:e', 'up-embed:e', 'up-embed:e', 'up-embed:b', 'up-embed:b']);
  });
});
