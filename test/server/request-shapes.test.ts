import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { call, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * Fields a translation reads, sent in shapes it did not expect. Found by fuzzing the other endpoints
 * and providers than the chat fuzz covers (#16): a chat request for an Anthropic deployment, a
 * /v1/messages request for an OpenAI-compatible one, and /v1/messages/count_tokens each answered
 * 500 `internal_error` (a TypeError in the translation or the token estimate).
 */

const HI = [{ role: 'user', content: 'hi' }];

/** Chat bodies for the `claude` model (chat -> Anthropic translation), and the param each must name. */
const CHAT_CASES: Array<[Record<string, unknown>, string]> = [
  [{ messages: HI, tools: { type: 'function' } }, 'tools'],
  [{ messages: HI, tools: [[]] }, 'tools[0].function'],
  [{ messages: HI, tools: [{ type: 'function' }] }, 'tools[0].function'],
  [{ messages: HI, tools: [{ type: 'custom', custom: { name: 'x' } }] }, 'tools[0].function'],
  [{ messages: HI, tool_choice: { type: 'function' } }, 'tool_choice.function.name'],
  [{ messages: HI, tool_choice: [null] }, 'tool_choice'],
  [{ messages: [{ role: 'user', content: [null] }] }, 'messages[0].content[0]'],
  [{ messages: [{ role: 'user', content: { text: 'hi' } }] }, 'messages[0].content'],
  [{ messages: [{ role: 'system', content: 5 }, ...HI] }, 'messages[0].content'],
  [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: null }] }] }, 'messages[0].content[0].image_url'],
  [{ messages: [...HI, { role: 'assistant', content: 'x', tool_calls: [{}] }] }, 'messages[1].tool_calls[0].function.name'],
  [{ messages: [...HI, { role: 'assistant', content: 'x', tool_calls: 5 }] }, 'messages[1].tool_calls'],
];

/** Anthropic-shaped bodies (for /v1/messages and count_tokens) whose tool_result content or tools are not blocks. */
const toolResult = (content: unknown) => [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content }] }];
const MESSAGES_CASES: Array<Record<string, unknown>> = [
  { messages: toolResult([{}]) },
  { messages: toolResult(5) },
  { messages: toolResult([null]) },
  { messages: toolResult({ type: 'text', text: 'x' }) },
  { messages: HI, tools: { name: 'x' } },
];

describe('request fields of a shape the translation does not expect answer 500', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    g = await startGateway(`routing: { maxAttempts: 2, circuitConsecutiveFailures: 2 }
providers:
  claude: { type: anthropic, baseUrl: "${up.url}", apiKey: "sk-ant-provider-key" }
  oai: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "sk-provider-key" }
models:
  claude: { providers: [{ provider: claude, model: claude-up }] }
  gpt: { providers: [{ provider: oai, model: up-model }] }
`);
  });
  after(async () => {
    await g.close();
    await up.close();
  });
  beforeEach(() => {
    up.requests.length = 0;
  });

  test('a chat request for an Anthropic deployment: 400 naming the field, in the OpenAI shape', async () => {
    for (const [body, param] of CHAT_CASES) {
      const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'claude', ...body } });
      const context = `${JSON.stringify(body)} -> ${r.status} ${r.text}`;
      assert.equal(r.status, 400, context);
      assert.equal(r.json?.error?.type, 'invalid_request_error', context);
      assert.equal(r.json.error.code, 'invalid_value', context);
      assert.equal(r.json.error.param, param, context);
      assert.equal(Object.keys(r.json).length, 1, context);
    }
    assert.equal(up.requests.length, 0, 'nothing went upstream');
  });

  test('a /v1/messages request for an OpenAI-compatible deployment, and count_tokens: 400 in the Anthropic shape', async () => {
    for (const body of MESSAGES_CASES) {
      for (const [path, extra] of [['/v1/messages', { max_tokens: 5 }], ['/v1/messages/count_tokens', {}]] as const) {
        const r = await call(g.url, 'POST', path, { body: { model: 'gpt', ...extra, ...body } });
        const context = `${path} ${JSON.stringify(body)} -> ${r.status} ${r.text}`;
        assert.equal(r.status, 400, context);
        assert.equal(r.json?.type, 'error', context);
        assert.equal(r.json.error.type, 'invalid_request_error', context);
      }
    }
    assert.equal(up.requests.length, 0, 'nothing went upstream');
  });

  test('no circuit opened, and both deployments still serve', async () => {
    const deployments = await call(g.url, 'GET', '/v1/pool/deployments');
    for (const d of deployments.json.data.deployments as Array<{ key: string; circuit: string; consecutive_failures: number }>) {
      assert.equal(d.circuit, 'closed', d.key);
      assert.equal(d.consecutive_failures, 0, d.key);
    }
    assert.equal((await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'gpt', messages: HI } })).status, 200);
    const count = await call(g.url, 'POST', '/v1/messages/count_tokens', { body: { model: 'gpt', messages: toolResult([{ type: 'text', text: 'sunny' }]) } });
    assert.equal(count.status, 200, count.text);
    assert.ok(count.json.input_tokens > 0);
  });
});
