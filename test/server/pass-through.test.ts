import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { call, upstreamGateway } from './helpers.js';

describe('the chat route passes bytes through', () => {
  const ctx = upstreamGateway();

  test('a non-streaming reply is the upstream body byte for byte (spacing, key order, unknown fields), as application/json', async () => {
    const body = `{"object":"chat.completion",  "id":"chatcmpl-raw","created":1,"model":"up-model","x_vendor":{"a":[1,2]},
 "choices":[{"index":0,"message":{"role":"assistant","content":"caf\\u00e9 \\"usage\\""},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}`;
    ctx.up.onChat = (req) => {
      req.res.writeHead(200, { 'content-type': 'application/json' });
      req.res.end(body);
    };
    const r = await call(ctx.g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(r.status, 200);
    assert.equal(r.text, body);
    assert.equal(r.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(r.headers.get('x-adapterpool-deployment'), 'up-model:loop');
    const line = ctx.g.logs.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.msg === 'chat completion' && l.model === 'up');
    assert.deepEqual(line?.tokens, { prompt: 4, completion: 2, total: 6 });
  });

  test('a "__proto__" key in the chat body goes to the upstream as data and pollutes nothing (the chat route skips the proto scan)', async () => {
    ctx.up.onChat = (req) => {
      req.res.writeHead(200, { 'content-type': 'application/json' });
      req.res.end(JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'up-model', choices: [], seen: Object.keys(req.body) }));
    };
    const raw = '{"model":"up","messages":[{"role":"user","content":"hi"}],"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}';
    const r = await call(ctx.g.url, 'POST', '/v1/chat/completions', { rawBody: raw });
    assert.equal(r.status, 200);
    assert.ok(r.json.seen.includes('__proto__'), 'forwarded as an own field');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
  });

  test('a "__proto__" key on embeddings and messages was refused as "not valid JSON": 400 naming the key, in each API\'s shape', async () => {
    const embeddings = await call(ctx.g.url, 'POST', '/v1/embeddings', { rawBody: '{"model":"up","input":"hi","__proto__":{"x":1}}' });
    assert.equal(embeddings.status, 400, embeddings.text);
    assert.match(embeddings.json.error.message, /"__proto__" key/);
    assert.doesNotMatch(embeddings.json.error.message, /not valid JSON/);
    const messages = await call(ctx.g.url, 'POST', '/v1/messages', {
      rawBody: '{"model":"up","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"__proto__":{"x":1}}',
    });
    assert.equal(messages.status, 400, messages.text);
    assert.equal(messages.json.type, 'error');
    assert.match(messages.json.error.message, /"__proto__" key/);
    // A body that is not JSON is still told so.
    const broken = await call(ctx.g.url, 'POST', '/v1/embeddings', { rawBody: '{"model":' });
    assert.equal(broken.status, 400);
    assert.match(broken.json.error.message, /could not parse the JSON/);
  });
});
