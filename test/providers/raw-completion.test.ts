import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { completionText, createProviderAdapter, lazyCompletion, type ProviderError } from '../../src/providers/index.js';
import { completion, sendJson, startUpstream } from './helpers.js';

const hi = { model: 'x', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('non-streaming pass-through: the completion keeps the upstream text', () => {
  it('completionText() is the upstream body byte for byte; usage reads without materializing; the object behaves as parsed', async () => {
    // Spacing, key order and unknown fields exactly as an upstream might send them.
    const body = `{ "id":"chatcmpl-9","object":"chat.completion","created":7,"model":"m","system_fingerprint":"fp_1",
  "choices":[{"index":0,"message":{"role":"assistant","content":"a \\"usage\\": {x} }"},"finish_reason":"stop"}],
  "usage": {"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{"cached_tokens":1}} }\n`;
    const up = await startUpstream((_req, res) => sendJson(res, 200, body));
    const adapter = createProviderAdapter({ name: 'up', type: 'openai', baseUrl: up.url, apiKey: 'sk-x' }, 'm');
    try {
      const c = await adapter.chatCompletion(hi);
      assert.equal(completionText(c), body);
      assert.deepEqual(c.usage, { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5, prompt_tokens_details: { cached_tokens: 1 } });
      assert.equal(completionText(c), body, 'reading usage keeps the text valid');
      const parsed = JSON.parse(body);
      assert.equal(JSON.stringify(c), JSON.stringify(parsed));
      assert.deepStrictEqual(c, parsed);
      assert.equal(c.system_fingerprint, 'fp_1');
      assert.deepEqual(Object.keys(c), Object.keys(parsed));
      assert.equal(completionText(c), undefined, 'once materialized, the object may change: no text');
      c.model = 'alias';
      assert.equal(JSON.parse(JSON.stringify(c)).model, 'alias');
      assert.equal(await Promise.resolve(c), c, 'awaitable as a plain value');
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('a body not shaped like a completion still goes through the full classification', async () => {
    const up = await startUpstream((_req, res) => sendJson(res, 200, { error: { message: 'no', code: 'insufficient_quota' } }));
    const adapter = createProviderAdapter({ name: 'up', type: 'openai', baseUrl: up.url, apiKey: 'sk-x' }, 'm');
    try {
      await assert.rejects(adapter.chatCompletion(hi), (e: ProviderError) => e.errorClass === 'quota');
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('usage: null, no usage, usage before choices; a garbled text fails as bad_response when read', () => {
    assert.equal(lazyCompletion('{"choices":[],"usage":null}', 'p').usage, null);
    assert.equal(lazyCompletion('{"choices":[]}', 'p').usage, undefined);
    assert.deepEqual(lazyCompletion('{"usage":{"total_tokens":1},"choices":[]}', 'p').usage, { total_tokens: 1 });
    const bad = lazyCompletion('{"choices": [oops}', 'p');
    assert.equal(completionText(bad), '{"choices": [oops}');
    assert.throws(() => bad.choices, (e: ProviderError) => e.errorClass === 'bad_response' && e.status === 502);
  });

  it('translated and mock completions carry no text', async () => {
    const mock = createProviderAdapter({ name: 'm', type: 'mock' }, 'm');
    assert.equal(completionText(await mock.chatCompletion(hi)), undefined);
    assert.equal(completionText(completion('x') as never), undefined);
  });
});

describe('usage read from the text: the same object JSON.parse gives', () => {
  const usages = [
    '{"prompt_tokens":9,"completion_tokens":9,"total_tokens":18}',
    '{ "prompt_tokens" : 0 , "completion_tokens":12345678901234,\n "total_tokens":1 }',
    '{}',
    '{"a":1,"a":2}',
    '{"prompt_tokens":9,"prompt_tokens_details":{"cached_tokens":1}}',
    '{"prompt_tokens":9.5,"total_tokens":-1}',
    '{"prompt_tokens":1e3}',
    '{"prompt_tokens":null,"cost":"0.1"}',
    '{"pr\\u006fmpt":3}',
    '{"__proto__":3}',
    '{"big":123456789012345678}',
  ];
  for (const u of usages) {
    it(u, () => {
      const text = `{"choices":[],"usage":${u}}`;
      const c = lazyCompletion(text, 'p');
      assert.deepStrictEqual(c.usage, JSON.parse(text).usage);
      assert.deepStrictEqual(Object.keys(c.usage as object), Object.keys(JSON.parse(text).usage));
      assert.equal(completionText(c), text, 'usage read without materializing');
    });
  }
  it('a leading zero is not JSON: the full parse says so', () => {
    assert.throws(() => lazyCompletion('{"choices":[],"usage":{"total_tokens":012}}', 'p').usage, /not JSON/);
  });
});
