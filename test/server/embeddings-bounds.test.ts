import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { FlexibleLimiter } from '../../src/routing/index.js';
import { call, Upstream } from './helpers.js';
import { startKeyedGateway } from './keys-helpers.js';

/** Regressions found by a client-side audit of `/v1/embeddings`. */
describe('embeddings: bounds and missing usage', () => {
  const KEY = 'sk-embeddings-team-key';
  let up: Upstream;
  let g: Awaited<ReturnType<typeof startKeyedGateway>>;
  let client: OpenAI;
  before(async () => {
    up = await Upstream.start();
    // An upstream that answers without `usage`.
    up.onChat = (r) => {
      r.res.writeHead(200, { 'content-type': 'application/json' });
      r.res.end(JSON.stringify({ object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.5, 0.5] }], model: 'up-embed' }));
    };
    g = await startKeyedGateway(
      `auth:
  keys:
    - { name: team, key: "${KEY}", tpm: 100 }
routing: { maxAttempts: 1 }
providers:
  m: { type: mock }
  loop: { type: openai-compatible, baseUrl: "${up.url}" }
models:
  emb-mock: { endpoints: [embeddings], providers: [{ provider: m, model: mock-embed }] }
  emb-quiet: { endpoints: [embeddings], providers: [{ provider: loop, model: up-embed }] }
`,
      { limiter: new FlexibleLimiter({ windowMs: 60_000 }) },
    );
    client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('regression: dimensions 100000000 on the mock took the whole process heap; the request is a 400 and the gateway serves on', async () => {
    const huge = await call(g.url, 'POST', '/v1/embeddings', { key: KEY, body: { model: 'emb-mock', input: 'x', dimensions: 100_000_000 } });
    assert.equal(huge.status, 400);
    assert.equal(huge.json.error.param, 'dimensions');
    // Within the request's bound, over the mock's own (65 × 65,536 > 4,194,304 numbers): its 400.
    const many = await call(g.url, 'POST', '/v1/embeddings', { key: KEY, body: { model: 'emb-mock', input: Array.from({ length: 65 }, () => 'a'), dimensions: 65_536 } });
    assert.equal(many.status, 400);
    assert.match(many.json.error.message, /dimensions/);
    assert.equal((await call(g.url, 'GET', '/health')).status, 200);
  });

  test('regression: an empty string was sent upstream though the 400 message says none may be empty', async () => {
    for (const input of ['', ['a', '']]) {
      const r = await call(g.url, 'POST', '/v1/embeddings', { key: KEY, body: { model: 'emb-mock', input } });
      assert.equal(r.status, 400, JSON.stringify(input));
      assert.equal(r.json.error.param, 'input');
    }
  });

  test('regression: an upstream without usage made embeddings free under tpm (usage 0); the answer carries the estimate and the key stays charged', async () => {
    const input = 'word '.repeat(60); // 300 characters: an estimate of 75 tokens
    const first = await client.embeddings.create({ model: 'emb-quiet', input, encoding_format: 'float' });
    assert.deepEqual(first.usage, { prompt_tokens: 75, total_tokens: 75 });
    // tpm 100: the second request's 75 would go over what the first one used.
    await assert.rejects(client.embeddings.create({ model: 'emb-quiet', input, encoding_format: 'float' }), (err: unknown) => err instanceof OpenAI.APIError && err.status === 429);
    await g.gw.ledger!.flush();
    const rows = (await g.gw.ledger!.store.rows(0, Date.now() + 1000)).filter((r) => r.model === 'emb-quiet' && r.status === 200);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.totalTokens, null, 'the ledger records the tokens as unknown');
  });

  test('regression: optional fields sent as null (encoding_format, dimensions, user) were a 400; they count as not given and are not sent upstream', async () => {
    const before = up.requests.length;
    const r = await call(g.url, 'POST', '/v1/embeddings', { key: KEY, body: { model: 'emb-quiet', input: 'hello', encoding_format: null, dimensions: null, user: null } });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.data[0].embedding, [0.5, 0.5]); // float, the default encoding
    const sent = up.requests[before]!.body as Record<string, unknown>;
    for (const f of ['encoding_format', 'dimensions', 'user']) assert.equal(f in sent, false, f);
    // A wrong value is still refused.
    const bad = await call(g.url, 'POST', '/v1/embeddings', { key: KEY, body: { model: 'emb-mock', input: 'x', encoding_format: 'hex' } });
    assert.equal(bad.status, 400);
  });
});
