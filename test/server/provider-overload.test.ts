import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * Bug: Zhipu's "overloaded" refusal (business code 1305, sent as HTTP 429) reached an OpenAI client
 * as a generic 502 `upstream_server_error` without Retry-After, and an Anthropic client as 500
 * `api_error`. README's table answers an overloaded upstream with 503 + Retry-After
 * `upstream_unavailable` (529 `overloaded_error` on /v1/messages).
 */
describe('an overloaded upstream', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    up.onChat = (r) => {
      r.res.writeHead(429, { 'content-type': 'application/json' });
      r.res.end(JSON.stringify({ error: { code: '1305', message: '当前API请求过多，请稍后重试。' } }));
    };
    g = await startGateway(`routing: { maxAttempts: 1 }
pool: { minPoolSize: 1, maxPoolSize: 2, cleanupInterval: 1h, healthCheckInterval: 1h }
usage: { enabled: false }
providers:
  zp: { type: zhipu, baseUrl: "${up.url}", apiKey: zhipu-key-for-tests }
models:
  glm: { providers: [{ provider: zp, model: glm-4-flash }] }
`);
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('regression: Zhipu 1305 (HTTP 429) was a 502 upstream_server_error; it is 503 upstream_unavailable with Retry-After, and 529 overloaded_error on /v1/messages', async () => {
    const chat = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'glm', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(chat.status, 503, JSON.stringify(chat.json));
    assert.equal(chat.json.error.code, 'upstream_unavailable');
    assert.ok(chat.headers.get('retry-after') !== null);
    const messages = await call(g.url, 'POST', '/v1/messages', { body: { model: 'glm', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(messages.status, 529, JSON.stringify(messages.json));
    assert.equal(messages.json.type, 'error');
    assert.equal(messages.json.error.type, 'overloaded_error');
  });
});
