import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { call, chunkFrame, errorReply, startGateway, Upstream, type RunningGateway } from './helpers.js';

const MSG = [{ role: 'user', content: 'hi' }];

/** A loopback port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const parsed = (logs: string[]) => logs.flatMap((l) => l.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, any>);

describe('upstream failures: what the client sees and what the log keeps (issue 15)', () => {
  let up: Upstream;
  let g: RunningGateway;
  let port: number;
  before(async () => {
    up = await Upstream.start();
    up.onChat = (req) => {
      if (req.body?.model === 'refuse') return errorReply(req.res, 400, "Invalid 'messages[0].content': string too long");
      if (req.body?.model === 'throttle') return errorReply(req.res, 429, 'Rate limit reached for gpt-x in organization org-1 on tokens per min');
      if (req.body?.model === 'stop') {
        // Two chunks, then a clean end: no finish_reason, no [DONE], no error.
        req.res.writeHead(200, { 'content-type': 'text/event-stream' });
        req.res.write(chunkFrame('a'));
        req.res.end(chunkFrame('b'));
        return;
      }
      if (req.body?.model !== 'cut') return errorReply(req.res, 500, 'internal upstream detail: db shard 7 at 10.1.2.3 is down');
      // A stream that breaks after two chunks: the upstream's connection drops mid-answer.
      req.res.writeHead(200, { 'content-type': 'text/event-stream' });
      req.res.write(chunkFrame('a'));
      req.res.write(chunkFrame('b'));
      setTimeout(() => req.res.socket?.destroy(), 20);
    };
    port = await deadPort();
    g = await startGateway(`routing: { maxAttempts: 1, maxAttemptsPerDeployment: 1 }
providers:
  dead: { type: openai-compatible, baseUrl: "http://127.0.0.1:${port}/v1", apiKey: "dead-key" }
  broken: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "broken-key" }
models:
  to-dead: { providers: [{ provider: dead, model: m }] }
  to-broken: { providers: [{ provider: broken, model: m }] }
  to-cut: { providers: [{ provider: broken, model: cut }] }
  to-refuse: { providers: [{ provider: broken, model: refuse }] }
  to-stop: { providers: [{ provider: broken, model: stop }] }
  to-throttle: { providers: [{ provider: broken, model: throttle }] }
`);
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('upstream internals reach clients (connect ECONNREFUSED 127.0.0.1:port): a generic message naming the provider, the detail in the log', async () => {
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'to-dead', messages: MSG }, headers: { 'x-request-id': 'dead-1' } });
    assert.equal(r.status, 502);
    assert.equal(r.json.error.code, 'upstream_network');
    assert.match(r.json.error.message, /upstream provider "dead" could not be reached/);
    for (const leak of ['ECONNREFUSED', '127.0.0.1', String(port), 'connect']) assert.ok(!r.text.includes(leak), `${leak} reached the client: ${r.text}`);
    const lines = parsed(g.logs).filter((l) => l.reqId === 'dead-1');
    assert.ok(lines.some((l) => JSON.stringify(l).includes('ECONNREFUSED')), `the detail is not in the log: ${JSON.stringify(lines)}`);
  });

  test('an upstream 500\'s body reaches the client: the gateway\'s own words', async () => {
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'to-broken', messages: MSG } });
    assert.equal(r.status, 502);
    assert.match(r.json.error.message, /upstream provider "broken" failed with a server error \(HTTP 500\)/);
    assert.ok(!r.text.includes('10.1.2.3') && !r.text.includes('shard'), r.text);
  });

  test('a request that fails on every deployment logs twice (a warn, then an error with a stack): one line with model, deployment and the detail', async () => {
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'to-broken', messages: MSG }, headers: { 'x-request-id': 'broken-1' } });
    assert.equal(r.status, 502);
    // At info and above (the default level; this gateway also logs at debug).
    const lines = parsed(g.logs).filter((l) => l.reqId === 'broken-1' && l.level >= 30);
    assert.equal(lines.length, 1, `one line per request: ${JSON.stringify(lines)}`);
    const line = lines[0]!;
    assert.equal(line.model, 'to-broken');
    assert.equal(line.deployment, 'm:broken');
    assert.equal(line.status, 502);
    assert.match(String(line.detail), /db shard 7/, 'the upstream detail is in the line');
    assert.equal(line.err, undefined, 'no stack: an upstream 500 is no bug of ours');
    assert.equal(line.level, 40);
  });

  test('regression: an upstream 400 or 429 was logged with its code only, not the upstream\'s words (the operator could not see why it refused)', async () => {
    for (const [model, status, words] of [
      ['to-refuse', 400, /string too long/],
      ['to-throttle', 429, /tokens per min/],
    ] as const) {
      const id = `${model}-1`;
      const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model, messages: MSG }, headers: { 'x-request-id': id } });
      assert.equal(r.status, status, r.text);
      const lines = parsed(g.logs).filter((l) => l.reqId === id && l.level >= 30);
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.equal(lines[0]!.status, status);
      assert.match(String(lines[0]!.detail), words, JSON.stringify(lines[0]));
      assert.equal(lines[0]!.level, 30, 'a client-side status stays at info');
    }
  });

  /** The lines of request `id` at info and above (the default level; this gateway also logs at debug). */
  const linesOf = (id: string) => parsed(g.logs).filter((l) => l.reqId === id && l.level >= 30);

  test('a /v1/messages request that fails on every deployment logs twice (the request line, then an error with a stack): one line', async () => {
    const r = await call(g.url, 'POST', '/v1/messages', { body: { model: 'to-broken', max_tokens: 8, messages: MSG }, headers: { 'x-request-id': 'messages-broken-1' } });
    assert.equal(r.status, 500, 'Anthropic\'s shape: server failures are 500 api_error');
    assert.equal(r.json.type, 'error');
    const lines = linesOf('messages-broken-1');
    assert.equal(lines.length, 1, `one line per request: ${JSON.stringify(lines)}`);
    assert.equal(lines[0]!.model, 'to-broken');
    assert.equal(lines[0]!.deployment, 'm:broken');
    assert.equal(lines[0]!.err, undefined, 'no stack: an upstream 500 is no bug of ours');
    assert.match(String(lines[0]!.detail), /db shard 7/);
  });

  test('a chat stream that breaks mid-way logs twice (a warn with a stack, then the request line): one line', async () => {
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'to-cut', stream: true, messages: MSG }, headers: { 'x-request-id': 'chat-cut-1' } });
    assert.equal(r.status, 200);
    assert.match(r.text, /"error"/, 'the stream ends with an error event');
    const lines = linesOf('chat-cut-1');
    assert.equal(lines.length, 1, `one line per request: ${JSON.stringify(lines)}`);
    assert.equal(lines[0]!.model, 'to-cut');
    assert.equal(lines[0]!.deployment, 'cut:broken');
    assert.equal(lines[0]!.stream, true);
    assert.equal(lines[0]!.err, undefined, 'no stack: a dropped upstream connection is no bug of ours');
    assert.ok(lines[0]!.detail, 'the detail is in the line');
  });

  test('a /v1/messages stream that breaks mid-way logs twice (a warn with a stack, then the request line): one line', async () => {
    const r = await call(g.url, 'POST', '/v1/messages', { body: { model: 'to-cut', max_tokens: 8, stream: true, messages: MSG }, headers: { 'x-request-id': 'messages-cut-1' } });
    assert.equal(r.status, 200);
    assert.match(r.text, /event: error/);
    const lines = linesOf('messages-cut-1');
    assert.equal(lines.length, 1, `one line per request: ${JSON.stringify(lines)}`);
    assert.equal(lines[0]!.model, 'to-cut');
    assert.equal(lines[0]!.err, undefined, 'no stack: a dropped upstream connection is no bug of ours');
  });

  test('a stream whose upstream drops the connection after two chunks is told "could not be reached": the client reads that it may have cut its answer off', async () => {
    const chat = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'to-cut', stream: true, messages: MSG } });
    assert.match(chat.text, /upstream provider \\"broken\\" could not be reached or cut its answer off/);
    const messages = await call(g.url, 'POST', '/v1/messages', { body: { model: 'to-cut', max_tokens: 8, stream: true, messages: MSG } });
    assert.match(messages.text, /upstream provider \\"broken\\" could not be reached or cut its answer off/);
    for (const text of [chat.text, messages.text]) assert.ok(!/other side closed|127\.0\.0\.1|socket/i.test(text), text);
  });

  test('regression: a stream the upstream simply stopped (no finish, no [DONE], no error) was said to have "reported an error inside the stream"', async () => {
    const chat = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'to-stop', stream: true, messages: MSG } });
    const messages = await call(g.url, 'POST', '/v1/messages', { body: { model: 'to-stop', max_tokens: 8, stream: true, messages: MSG } });
    for (const text of [chat.text, messages.text]) {
      assert.match(text, /upstream provider \\"broken\\" ended its stream early/, text);
      assert.ok(!text.includes('reported an error'), text);
    }
  });
});
