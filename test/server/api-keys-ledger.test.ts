import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { call, eventually } from './helpers.js';
import { startKeyedGateway } from './keys-helpers.js';

const TEAM_KEY = 'sk-team-embed-0123456789';
const LIMITED_KEY = 'sk-limited-abcdef987654';

const CONFIG = `auth:
  keys:
    - { name: team, key: "${TEAM_KEY}", models: [claude-chat, emb] }
    - { name: limited, key: "${LIMITED_KEY}", rpm: 2 }
usage: { flushInterval: 20ms }
providers:
  m: { type: mock, mock: { dimensions: 4 } }
models:
  claude-chat: { providers: [{ provider: m, model: mock-chat }], pricing: { input: 1, output: 2 } }
  emb: { endpoints: [embeddings], providers: [{ provider: m, model: mock-embed }] }
  other: { providers: [{ provider: m, model: mock-chat }] }
`;

describe('embeddings and messages share the chat route\'s keys, limits and ledger', () => {
  let g: Awaited<ReturnType<typeof startKeyedGateway>>;
  before(async () => {
    g = await startKeyedGateway(CONFIG);
  });
  after(() => g.close());

  test('a ledger row per request, with the key name, model, deployment, status and the tokens the upstream reported', async () => {
    const anthropic = new Anthropic({ baseURL: g.url, apiKey: TEAM_KEY, maxRetries: 0 });
    const openai = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: TEAM_KEY, maxRetries: 0 });
    const msg = await anthropic.messages.create({ model: 'claude-chat', max_tokens: 16, messages: [{ role: 'user', content: 'two words' }] });
    const streamed = await anthropic.messages.stream({ model: 'claude-chat', max_tokens: 16, messages: [{ role: 'user', content: 'three more words' }] }).finalMessage();
    const emb = await openai.embeddings.create({ model: 'emb', input: ['one two', 'three'], encoding_format: 'float' });
    const ledger = g.gw.ledger!;
    await eventually(() => ledger.pending === 0 && ledger.written >= 3, 'three rows written');
    const rows = (await ledger.store.rows(0, Date.now() + 1)).filter((r) => r.key === 'team');
    const byModel = (model: string, stream: boolean) => rows.find((r) => r.model === model && r.stream === stream)!;
    const m = byModel('claude-chat', false);
    assert.equal(m.status, 200);
    assert.equal(m.deployment, 'mock-chat:m');
    assert.equal(m.promptTokens, msg.usage.input_tokens);
    assert.equal(m.completionTokens, msg.usage.output_tokens);
    assert.ok(m.cost !== null && m.cost > 0);
    const s = byModel('claude-chat', true);
    assert.equal(s.promptTokens, streamed.usage.input_tokens);
    assert.equal(s.completionTokens, streamed.usage.output_tokens);
    const e = byModel('emb', false);
    assert.equal(e.deployment, 'mock-embed:m');
    assert.equal(e.promptTokens, emb.usage.prompt_tokens);
    assert.equal(e.completionTokens, 0);
    assert.equal(e.totalTokens, emb.usage.total_tokens);
  });

  test('a model outside the key\'s list: 404 on both endpoints, in each API\'s own shape', async () => {
    const m = await call(g.url, 'POST', '/v1/messages', { headers: { 'x-api-key': TEAM_KEY }, body: { model: 'other', max_tokens: 4, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(m.status, 404);
    assert.equal(m.json.error.type, 'not_found_error');
    const e = await call(g.url, 'POST', '/v1/embeddings', { key: TEAM_KEY, body: { model: 'other', input: 'x' } });
    assert.equal(e.status, 404);
    assert.equal(e.json.error.code, 'model_not_found');
  });

  test('regression: the ledger kept the client\'s string as the model of a 404 (any key could fill the usage report with rows of its own): unknown, as in metrics', async () => {
    const ledger = g.gw.ledger!;
    const before = ledger.written;
    const junk = await call(g.url, 'POST', '/v1/chat/completions', { key: TEAM_KEY, body: { model: 'junk-4711', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(junk.status, 404);
    const outside = await call(g.url, 'POST', '/v1/chat/completions', { key: TEAM_KEY, body: { model: 'other', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(outside.status, 404);
    await eventually(() => ledger.pending === 0 && ledger.written >= before + 2, 'two rows written');
    const rows = (await ledger.store.rows(0, Date.now() + 1)).filter((r) => r.requestId === junk.headers.get('x-request-id') || r.requestId === outside.headers.get('x-request-id'));
    assert.equal(rows.length, 2);
    for (const r of rows) {
      assert.equal(r.model, 'unknown');
      assert.equal(r.status, 404);
      assert.equal(r.cost, null);
    }
    const summary = await call(g.url, 'GET', '/v1/usage?group_by=model', { key: TEAM_KEY });
    const groups = (summary.json.data.groups as Array<{ model?: string; group?: string }>).map((x) => x.model ?? x.group);
    assert.ok(!groups.includes('junk-4711') && !groups.includes('other'), JSON.stringify(summary.json.data));
  });

  test('a key over its rpm: 429 with Retry-After and x-ratelimit-* on messages (Anthropic shape) and embeddings (OpenAI shape)', async () => {
    const anthropic = new Anthropic({ baseURL: g.url, apiKey: LIMITED_KEY, maxRetries: 0 });
    const first = await anthropic.messages.create({ model: 'claude-chat', max_tokens: 4, messages: [{ role: 'user', content: 'x' }] }).withResponse();
    assert.equal(first.response.headers.get('x-ratelimit-limit-requests'), '2');
    await call(g.url, 'POST', '/v1/embeddings', { key: LIMITED_KEY, body: { model: 'emb', input: 'x' } });
    await assert.rejects(anthropic.messages.create({ model: 'claude-chat', max_tokens: 4, messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.RateLimitError);
      assert.equal((err.error as { error: { type: string } }).error.type, 'rate_limit_error');
      assert.ok(Number(err.headers?.get('retry-after')) >= 1);
      assert.equal(err.headers?.get('x-ratelimit-remaining-requests'), '0');
      return true;
    });
    const e = await call(g.url, 'POST', '/v1/embeddings', { key: LIMITED_KEY, body: { model: 'emb', input: 'x' } });
    assert.equal(e.status, 429);
    assert.equal(e.json.error.code, 'rate_limit_exceeded');
  });
});
