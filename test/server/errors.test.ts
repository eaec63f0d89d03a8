import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, completion, errorReply, startGateway, Upstream, upstreamConfig, type RunningGateway } from './helpers.js';
import { ProviderError } from '../../src/providers/errors.js';

const MSG = [{ role: 'user', content: 'hi' }];

function assertOpenAIError(json: any): void {
  assert.equal(typeof json?.error?.message, 'string');
  assert.equal(typeof json.error.type, 'string');
  assert.ok('param' in json.error && 'code' in json.error, JSON.stringify(json));
}

describe('error replies are OpenAI-shaped with the right status', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    g = await startGateway(upstreamConfig(up.url, 'server: { bodyLimit: 2kb }'));
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('a routed request that failed carried no x-adapterpool-attempts / -deployment (only the log line had them): its error reply does, on both APIs', async () => {
    up.onChat = (r) => errorReply(r.res, 500, 'boom');
    const chat = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: MSG } });
    assert.equal(chat.status, 502);
    assert.equal(chat.headers.get('x-adapterpool-attempts'), '1');
    assert.equal(chat.headers.get('x-adapterpool-deployment'), 'up-model:loop');
    const messages = await call(g.url, 'POST', '/v1/messages', { body: { model: 'up', max_tokens: 5, messages: MSG } });
    assert.equal(messages.status, 500);
    assert.equal(messages.headers.get('x-adapterpool-attempts'), '1');
    assert.equal(messages.headers.get('x-adapterpool-deployment'), 'up-model:loop');
    // An error that reached no deployment says nothing of the kind.
    const unknown = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'nope', messages: MSG } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers.get('x-adapterpool-attempts'), null);
  });

  test('malformed JSON: 400', async () => {
    const r = await call(g.url, 'POST', '/v1/chat/completions', { rawBody: '{"model": "demo", "messages": [' });
    assert.equal(r.status, 400);
    assertOpenAIError(r.json);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.equal(r.json.error.code, 'invalid_json');
  });

  test('missing messages: 400 with param', async () => {
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'demo' } });
    assert.equal(r.status, 400);
    assertOpenAIError(r.json);
    assert.equal(r.json.error.param, 'messages');
  });

  test('invalid fields: 400 naming the field', async () => {
    for (const [body, param] of [
      [{ model: 'demo', messages: [] }, 'messages'],
      [{ model: 'demo', messages: [{ content: 'no role' }] }, 'messages[0].role'],
      [{ model: 42, messages: MSG }, 'model'],
      [{ messages: MSG }, 'model'],
      [{ model: 'demo', messages: MSG, stream: 'yes' }, 'stream'],
    ] as const) {
      const r = await call(g.url, 'POST', '/v1/chat/completions', { body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assertOpenAIError(r.json);
      assert.equal(r.json.error.param, param, JSON.stringify(r.json));
    }
  });

  test('unknown model: 404 model_not_found', async () => {
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'gpt-nope', messages: MSG } });
    assert.equal(r.status, 404);
    assertOpenAIError(r.json);
    assert.equal(r.json.error.code, 'model_not_found');
    assert.equal(r.json.error.param, 'model');
  });

  test('body too large: 413', async () => {
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'demo', messages: [{ role: 'user', content: 'x'.repeat(4096) }] } });
    assert.equal(r.status, 413);
    assertOpenAIError(r.json);
    assert.equal(r.json.error.code, 'request_too_large');
  });

  test('unknown route: 404 in the same shape', async () => {
    const r = await call(g.url, 'GET', '/v1/nothing-here');
    assert.equal(r.status, 404);
    assertOpenAIError(r.json);
  });

  test('upstream 429: 429 with Retry-After', async () => {
    up.onChat = (req) => errorReply(req.res, 429, 'slow down', { 'retry-after': '7' });
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: MSG } });
    assert.equal(r.status, 429);
    assertOpenAIError(r.json);
    assert.equal(r.json.error.type, 'rate_limit_error');
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
  });

  test('upstream 400: the caller\'s mistake keeps its status and body', async () => {
    up.onChat = (req) => errorReply(req.res, 400, 'temperature out of range');
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: MSG, temperature: 9 } });
    assert.equal(r.status, 400);
    assertOpenAIError(r.json);
    assert.match(r.json.error.message, /temperature out of range/);
  });

  test('upstream 503: 503 with Retry-After', async () => {
    up.onChat = (req) => errorReply(req.res, 503, 'overloaded');
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: MSG } });
    assert.equal(r.status, 503);
    assertOpenAIError(r.json);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
  });

  test('an error inside a 200 stream: an error event, then [DONE]', async () => {
    up.onChat = (req) => {
      req.res.writeHead(200, { 'content-type': 'text/event-stream' });
      req.res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: [{ index: 0, delta: { content: 'par' }, finish_reason: null }] })}\n\n`);
      req.res.end(`data: ${JSON.stringify({ error: { message: 'model crashed', type: 'server_error', param: null, code: null } })}\n\n`);
    };
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: MSG, stream: true } });
    assert.equal(r.status, 200);
    const frames = r.text.split('\n\n').filter(Boolean);
    assert.equal(frames.at(-1), 'data: [DONE]');
    const error = JSON.parse(frames.at(-2)!.slice('data: '.length));
    assertOpenAIError(error);
  });

  test('upstream 401: 502 naming the provider, never its key', async () => {
    up.onChat = (req) => errorReply(req.res, 401, `Incorrect API key provided: ${String(req.headers.authorization)}`);
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up2', messages: MSG } });
    assert.equal(up.requests.at(-1)!.headers.authorization, 'Bearer provider-secret-key-123', 'the upstream got the key');
    assert.equal(r.status, 502);
    assertOpenAIError(r.json);
    assert.equal(r.json.error.code, 'upstream_auth_failed');
    assert.match(r.json.error.message, /loop2/);
    assert.ok(!r.text.includes('provider-secret-key-123'));
    assert.ok(!g.logs.join('').includes('provider-secret-key-123'), 'the provider key reached the logs');
  });
});

describe('pool exhausted: 503 with Retry-After', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    g = await startGateway(upstreamConfig(up.url, '', '{ maxPoolSize: 1, minPoolSize: 0, acquireTimeout: 50ms }'));
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('the only adapter is busy and the acquire timeout passes', async () => {
    const held: Array<() => void> = [];
    up.onChat = (req) => held.push(() => completion(req.res, 'late'));
    const first = call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: MSG } });
    while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
    const second = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: MSG } });
    assert.equal(second.status, 503);
    assertOpenAIError(second.json);
    assert.ok(Number(second.headers.get('retry-after')) >= 1);
    held[0]!();
    assert.equal((await first).status, 200);
  });
});

describe('errorDetail (the log line\'s detail)', () => {
  test('a busy pool\'s detail said its cause twice ("…within 1000 ms: caused by: …within 1000 ms"): once', async () => {
    const { errorDetail } = await import('../../src/server/errors.js');
    const cause = new Error('no adapter for m:pa became available within 1000 ms');
    const wrapped = new Error(`every deployment of pl is busy: ${cause.message}`, { cause });
    assert.equal(errorDetail(wrapped), 'every deployment of pl is busy: no adapter for m:pa became available within 1000 ms');
    // A cause that adds something is still said.
    const other = new Error('upstream failed', { cause: new Error('ECONNRESET') });
    assert.equal(errorDetail(other), 'upstream failed: caused by: ECONNRESET');
  });
});

describe('a failed adapter create', () => {
  test('told the client the create\'s own error (an upstream address, the provider\'s words): 503 adapter_unavailable names the deployment only; the log line keeps the reason', async () => {
    const { errorDetail, toErrorReply } = await import('../../src/server/errors.js');
    const { CreateFailedError } = await import('../../src/pool/errors.js');
    const err = new CreateFailedError('m:p', new Error('new adapter failed its health check: p: connect ECONNREFUSED 10.1.2.3:443'));
    const r = toErrorReply(err);
    assert.equal(r.status, 503);
    assert.equal(r.body.error.code, 'adapter_unavailable');
    assert.match(r.body.error.message, /deployment m:p/);
    assert.doesNotMatch(r.body.error.message, /10\.1\.2\.3|ECONNREFUSED/);
    assert.match(errorDetail(err), /ECONNREFUSED 10\.1\.2\.3:443/);
  });

  test('regression: a deployment whose key the upstream refuses said "Could not connect" (an outage); it says its new adapters fail their health check with 401 auth, and nothing of the upstream\'s words', async () => {
    const { toErrorReply } = await import('../../src/server/errors.js');
    const { CreateFailedError } = await import('../../src/pool/errors.js');
    const refusal = new ProviderError({ provider: 'p', status: 401, errorClass: 'auth', message: 'p: Incorrect API key provided: sk-abc at db.internal' });
    const err = new CreateFailedError('m:p', new Error(`new adapter failed its health check: ${refusal.message}`, { cause: refusal }));
    const message = toErrorReply(err).body.error.message;
    assert.match(message, /deployment m:p \(its new adapters fail their health check: 401 auth\)/);
    assert.doesNotMatch(message, /Incorrect API key|db\.internal|connect/);
  });
});
