import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { jsonDepthExceeds } from '../../src/server/edge.js';
import { call, completion, eventually, startGateway, Upstream, upstreamConfig, type RunningGateway } from './helpers.js';

const MSG = [{ role: 'user', content: 'hi' }];

function assertOpenAIError(json: any, code?: string): void {
  assert.equal(typeof json?.error?.message, 'string', JSON.stringify(json));
  assert.equal(typeof json.error.type, 'string');
  assert.ok('param' in json.error && 'code' in json.error, JSON.stringify(json));
  if (code !== undefined) assert.equal(json.error.code, code, JSON.stringify(json));
}

/** Write raw bytes on a fresh connection; resolve with everything the server sent before it closed. */
function rawExchange(url: string, bytes: string | Buffer, limitMs = 5000): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server never closed the connection; got: ${text.slice(0, 300)}`));
    }, limitMs);
    socket.on('data', (b) => (text += b.toString()));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.write(bytes);
  });
}

/** Status line and JSON body of a raw HTTP/1.1 answer. */
function parseRaw(text: string): { status: number; headers: string; json: any } {
  const [head, ...rest] = text.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head ?? '')?.[1]);
  let json: any;
  try {
    json = JSON.parse(rest.join('\r\n\r\n'));
  } catch {
    json = undefined;
  }
  return { status, headers: head ?? '', json };
}

describe('the HTTP edge (issue 16 items 1, 4, 5, 7; issue 15 request ids)', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    g = await startGateway(upstreamConfig(up.url, 'server: { maxJsonDepth: 32, bodyTimeout: 600ms, maxConnections: 40 }'));
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('x-request-id not echoed: every response carries the one received, or a generated one', async () => {
    const given = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: MSG }, headers: { 'x-request-id': 'client-id-42' } });
    assert.equal(given.status, 200);
    assert.equal(given.headers.get('x-request-id'), 'client-id-42');
    const made = await call(g.url, 'GET', '/v1/models');
    assert.match(made.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    const other = await call(g.url, 'GET', '/v1/models');
    assert.notEqual(other.headers.get('x-request-id'), made.headers.get('x-request-id'));
    // Errors and streams too.
    assert.equal((await call(g.url, 'GET', '/nope', { headers: { 'x-request-id': 'e-1' } })).headers.get('x-request-id'), 'e-1');
    const stream = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 's-1' },
      body: JSON.stringify({ model: 'demo', stream: true, messages: MSG }),
    });
    assert.equal(stream.headers.get('x-request-id'), 's-1');
    await stream.text();
    // A client id that is not a plain short token is replaced, never echoed.
    const junk = await call(g.url, 'GET', '/v1/models', { headers: { 'x-request-id': 'x'.repeat(500) } });
    assert.match(junk.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  test('a body nested deeper than maxJsonDepth reaches the router: 400 invalid_value at the edge, nothing sent upstream', async () => {
    const before = up.requests.length;
    const depth = 5000;
    const deep = `{"model":"up","messages":[{"role":"user","content":"x","extra":${'['.repeat(depth)}${']'.repeat(depth)}}]}`;
    const r = await call(g.url, 'POST', '/v1/chat/completions', { rawBody: deep });
    assert.equal(r.status, 400);
    assertOpenAIError(r.json, 'invalid_value');
    assert.match(r.json.error.message, /maxJsonDepth/);
    assert.equal(up.requests.length, before);
    // Brackets inside strings do not count, and a body at the limit is served.
    const inString = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: [{ role: 'user', content: '[{'.repeat(1000) }] } });
    assert.equal(inString.status, 200);
    let nested: unknown = 'x';
    for (let i = 0; i < 28; i++) nested = [nested];
    const atLimit = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: [{ role: 'user', content: 'x', extra: nested }] } });
    assert.equal(atLimit.status, 200, atLimit.text);
  });

  test('jsonDepthExceeds: escapes inside strings, exact limit', () => {
    assert.equal(jsonDepthExceeds('[[[]]]', 3), false);
    assert.equal(jsonDepthExceeds('[[[[]]]]', 3), true);
    assert.equal(jsonDepthExceeds(JSON.stringify({ a: 'quote \\" [[[[[[ and \\\\', b: [[1]] }), 3), false);
    assert.equal(jsonDepthExceeds(JSON.stringify({ a: 'ends with backslash \\', b: [[[[1]]]] }), 3), true);
  });

  test('a text/plain body gets 400 "must be object": 415 unsupported_media_type', async () => {
    const r = await call(g.url, 'POST', '/v1/chat/completions', { rawBody: JSON.stringify({ model: 'up', messages: MSG }), headers: { 'content-type': 'text/plain' } });
    assert.equal(r.status, 415);
    assertOpenAIError(r.json, 'unsupported_media_type');
  });

  test('a gzip body was read as text and answered 400 invalid JSON: 415 unsupported_content_encoding', async () => {
    const body = gzipSync(JSON.stringify({ model: 'up', messages: MSG }));
    const res = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body });
    const json = await res.json();
    assert.equal(res.status, 415);
    assertOpenAIError(json, 'unsupported_content_encoding');
    assert.match((json as { error: { message: string } }).error.message, /uncompressed/);
    const plain = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: MSG }, headers: { 'content-encoding': 'identity' } });
    assert.equal(plain.status, 200, 'identity is no encoding');
  });

  test('/v1/models/%ff answers fastify\'s FST_ERR_BAD_URL body: 400 in the API shape', async () => {
    const r = await call(g.url, 'GET', '/v1/models/%ff');
    assert.equal(r.status, 400);
    assertOpenAIError(r.json, 'invalid_url');
    assert.ok(!r.text.includes('FST_ERR'), r.text);
  });

  test('a bad %-escape under /v1/messages was answered in OpenAI\'s shape: Anthropic\'s, with its request-id', async () => {
    const r = await call(g.url, 'POST', '/v1/messages/%ff', { body: { model: 'gpt-x', max_tokens: 5, messages: MSG } });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json?.type, 'error', r.text);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.match(r.json.error.message, /percent-encoding/);
    assert.equal(r.headers.get('request-id'), r.headers.get('x-request-id'));
  });

  test('a path parameter over the length limit answers fastify\'s 414 body: 414 in the API shape', async () => {
    const r = await call(g.url, 'GET', `/v1/models/${'m'.repeat(300)}`);
    assert.equal(r.status, 414);
    assertOpenAIError(r.json, 'url_too_long');
  });

  test('headers over the size limit answer fastify\'s 431 body: 431 in the API shape', async () => {
    const text = await rawExchange(g.url, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const r = parseRaw(text);
    assert.equal(r.status, 431);
    assertOpenAIError(r.json, 'request_header_too_large');
  });

  test('a 20 KB URL answered 431 (headers too large): 414 url_too_long, as a long path parameter is', async () => {
    const text = await rawExchange(g.url, `GET /v1/models?q=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const r = parseRaw(text);
    assert.equal(r.status, 414);
    assertOpenAIError(r.json, 'url_too_long');
  });

  test('an unparsable request answers "Client Error": 400 in the API shape', async () => {
    const text = await rawExchange(g.url, 'THIS IS NOT HTTP\r\n\r\n');
    const r = parseRaw(text);
    assert.equal(r.status, 400);
    assertOpenAIError(r.json, 'bad_request');
  });

  test('a client trickling a chunked body holds the connection forever: cut with 408 after server.bodyTimeout', async () => {
    const { port } = new URL(g.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    let text = '';
    socket.on('data', (b) => (text += b.toString()));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
    // One byte every 100 ms: each chunk well inside any idle timeout, the whole body never ends.
    const trickle = setInterval(() => socket.writable && socket.write('1\r\n \r\n'), 100);
    try {
      await Promise.race([closed, sleep(10_000).then(() => assert.fail('the trickling connection was never closed'))]);
    } finally {
      clearInterval(trickle);
    }
    const r = parseRaw(text);
    assert.equal(r.status, 408, text);
    assertOpenAIError(r.json, 'request_timeout');
    assert.ok(g.logs.some((l) => l.includes('"event":"body_timeout"')));
    // The gateway still serves.
    assert.equal((await call(g.url, 'GET', '/health')).status, 200);
  });

  test('a /v1/messages body not received within server.bodyTimeout was cut with OpenAI\'s 408 body: Anthropic\'s shape', async () => {
    const text = await rawExchange(g.url, 'POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":', 10_000);
    const r = parseRaw(text);
    assert.equal(r.status, 408, text);
    assert.deepEqual(Object.keys(r.json ?? {}).sort(), ['error', 'type'], text);
    assert.equal(r.json.type, 'error');
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.match(r.json.error.message, /server\.bodyTimeout/);
    assert.match(r.headers, /\r\nrequest-id: /i);
  });

  test('a client that connects and never sends a byte holds its connection forever: closed after server.bodyTimeout', async () => {
    // Node's request and headers timeouts start with the first byte of a request: silent connections
    // were never cut, and server.maxConnections of them locked every other client out.
    const { port } = new URL(g.url);
    const silent = Array.from({ length: 5 }, () => {
      const s = net.connect(Number(port), '127.0.0.1');
      s.on('error', () => {});
      return new Promise<void>((resolve) => s.on('close', () => resolve()));
    });
    await Promise.race([Promise.all(silent), sleep(10_000).then(() => assert.fail('silent connections were never closed'))]);
    assert.equal((await call(g.url, 'GET', '/health')).status, 200);
  });

  test('a kept-alive connection and a slow stream are not cut by the silent-connection timeout', async () => {
    const { port } = new URL(g.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (b) => (text += b.toString()));
    let closed = false;
    socket.on('close', () => (closed = true));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => text.includes('"ok"'), 'first answer');
    // Idle past bodyTimeout (600 ms) but well inside keepAliveTimeout: still open, still served.
    await sleep(1500);
    assert.equal(closed, false, 'a kept-alive connection was cut by bodyTimeout');
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => text.split('"ok"').length === 3, 'second answer on the same connection');
    socket.destroy();
    // A request whose answer takes longer than bodyTimeout (a slow first token) is answered.
    up.onChat = (req) => setTimeout(() => completion(req.res, 'slow answer'), 1500);
    try {
      const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: MSG } });
      assert.equal(r.status, 200, r.text);
    } finally {
      up.onChat = (req) => completion(req.res, 'hello from upstream');
    }
  });

  test('no cap on open connections: connections over server.maxConnections are refused, the gateway serves again when they close', async () => {
    // Its own gateway: the held connections are silent, and this suite's 600 ms bodyTimeout would close them.
    const g = await startGateway(upstreamConfig(up.url, 'server: { bodyTimeout: 30s, maxConnections: 40 }'));
    const { port } = new URL(g.url);
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        const s = net.connect(Number(port), '127.0.0.1');
        s.on('error', () => {});
        await new Promise<void>((resolve) => s.once('connect', () => resolve()));
        held.push(s);
      }
      // The 41st: accepted by the kernel, closed at once by the server without an answer.
      const text = await rawExchange(g.url, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(text, '', 'a connection over the cap was served');
      assert.ok(g.logs.some((l) => l.includes('"event":"connection_refused"')));
      for (const s of held) s.destroy();
      await eventually(() => (g.gw.app.server as unknown as { _connections: number })._connections < 40, 'connections closed');
      assert.equal((await call(g.url, 'GET', '/health')).status, 200);
    } finally {
      for (const s of held) s.destroy();
      await g.close();
    }
  });

  test('the unknown-model reply and its log line repeat a 3 MB model name: both capped', async () => {
    const huge = 'm'.repeat(3 * 1024 * 1024);
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: huge, messages: MSG }, headers: { 'x-request-id': 'huge-model' } });
    assert.equal(r.status, 404);
    assertOpenAIError(r.json, 'model_not_found');
    assert.ok(r.text.length < 2000, `reply is ${r.text.length} bytes`);
    const lines = g.logs.filter((l) => l.includes('"huge-model"'));
    assert.ok(lines.length > 0);
    for (const l of lines) assert.ok(l.length < 4000, `log line is ${l.length} bytes`);
  });

  test('a 3 MB content block type or server tool type sent to /v1/messages is repeated in full in the 400 and its log line: both capped', async () => {
    // Its own gateway: the rejected request's line is a debug line.
    const g = await startGateway(upstreamConfig(up.url, 'logging: { level: debug }'));
    try {
      const huge = 'z'.repeat(3 * 1024 * 1024);
      const bodies = [
        { model: 'up', max_tokens: 5, messages: [{ role: 'user', content: [{ type: huge }] }] },
        { model: 'up', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], tools: [{ name: 't', type: huge }] },
      ];
      for (const [i, body] of bodies.entries()) {
        const r = await call(g.url, 'POST', '/v1/messages', { body, headers: { 'x-request-id': `huge-type-${i}` } });
        assert.equal(r.status, 400, r.text.slice(0, 300));
        assert.equal(r.json?.type, 'error');
        assert.ok(r.text.length < 2000, `reply is ${r.text.length} bytes`);
        const lines = g.logs.filter((l) => l.includes(`"huge-type-${i}"`));
        assert.ok(lines.length > 0);
        for (const l of lines) assert.ok(l.length < 4000, `log line is ${l.length} bytes`);
      }
    } finally {
      await g.close();
    }
  });
});

describe('the 503 sent while shutting down', () => {
  test('is fastify\'s own body: now the API error shape with shutting_down', async () => {
    const g = await startGateway(upstreamConfig('http://127.0.0.1:9/v1'));
    try {
      const { port } = new URL(g.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      socket.on('error', () => {});
      let text = '';
      socket.on('data', (b) => (text += b.toString()));
      const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      // Headers half sent when the shutdown starts: the connection is busy, so it stays open.
      socket.write('GET /v1/models HTTP/1.1\r\nHost: x\r\n');
      await sleep(50);
      const closing = g.gw.close(5000);
      socket.write('\r\n');
      await ended;
      const r = parseRaw(text);
      assert.equal(r.status, 503, text);
      assertOpenAIError(r.json, 'shutting_down');
      assert.match(r.headers, /connection: close/i);
      await closing;
    } finally {
      await g.close();
    }
  });

  test('a kept-alive client holds the shutdown until its deadline: idle connections are closed as they become idle', async () => {
    const up = await Upstream.start();
    let hold!: () => void;
    up.onChat = (req) => {
      hold = () => completionReply(req.res);
      req.res.writeHead(200, { 'content-type': 'application/json' });
    };
    const g = await startGateway(upstreamConfig(up.url));
    try {
      const slow = fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'up', messages: MSG }) });
      await eventually(() => up.requests.length === 1, 'the slow request reached the upstream');
      let closed = false;
      const closing = g.gw.close(60_000).then(() => (closed = true));
      hold();
      assert.equal((await slow).status, 200);
      // Bounded by eventually's limit (5 s), far below the 60 s deadline the seed waited for.
      await eventually(() => closed, 'the gateway closed once its last request finished');
      await closing;
    } finally {
      await g.close();
      await up.close();
    }
  });
});

function completionReply(res: import('node:http').ServerResponse): void {
  res.end(JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'up-model', choices: [] }));
}
