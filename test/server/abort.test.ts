import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { chunkFrame, eventually, startGateway, Upstream, upstreamConfig, type RunningGateway } from './helpers.js';

/** POST a chat request with node:http so the test controls exactly when the connection dies. */
function post(url: string, body: unknown): { req: http.ClientRequest; response: Promise<http.IncomingMessage> } {
  const req = http.request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  response.catch(() => {}); // a test that hangs up on purpose does not await it
  req.end(JSON.stringify(body));
  return { req, response };
}

describe('a client that hangs up', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    g = await startGateway(upstreamConfig(up.url));
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('mid-stream: the upstream sees the abort and the adapter goes back to the pool', async () => {
    up.onChat = (req) => {
      req.res.writeHead(200, { 'content-type': 'text/event-stream' });
      req.res.write(chunkFrame('first'));
      // ...and nothing more until the client goes away.
    };
    const { req, response } = post(g.url, { model: 'up', stream: true, messages: [{ role: 'user', content: 'x' }] });
    req.on('error', () => {});
    const res = await response;
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /text\/event-stream/);
    const first = await new Promise<string>((resolve) => res.once('data', (b: Buffer) => resolve(b.toString())));
    assert.match(first, /first/);
    assert.equal(g.gw.pool.status().in_use_adapters, 1);

    req.destroy();
    await up.requests.at(-1)!.aborted;
    await eventually(() => g.gw.pool.status().in_use_adapters === 0, 'the adapter returned to the pool');
  });

  test('before the first byte: the upstream call is aborted and the adapter released', async () => {
    up.onChat = () => {}; // never answers
    const before = up.requests.length;
    const { req } = post(g.url, { model: 'up', messages: [{ role: 'user', content: 'x' }] });
    req.on('error', () => {});
    await eventually(() => up.requests.length > before, 'the upstream got the request');
    assert.equal(g.gw.pool.status().in_use_adapters, 1);

    req.destroy();
    await up.requests.at(-1)!.aborted;
    await eventually(() => g.gw.pool.status().in_use_adapters === 0, 'the adapter returned to the pool');
  });

  test('a hang-up before the first byte was logged as api_error (after it: client_closed): client_closed either way', async () => {
    up.onChat = () => {}; // never answers
    const before = up.requests.length;
    const { req } = post(g.url, { model: 'up', messages: [{ role: 'user', content: 'x' }] });
    req.on('error', () => {});
    await eventually(() => up.requests.length > before, 'the upstream got the request');
    const logged = g.logs.length;
    req.destroy();
    const line499 = () => g.logs.slice(logged).join('').split('\n').find((l) => l.includes('"status":499'));
    await eventually(() => line499() !== undefined, 'the request line');
    const line = JSON.parse(line499()!) as { error?: string };
    assert.equal(line.error, 'client_closed');
  });

  test('the gateway still serves after both', async () => {
    up.onChat = (req) => {
      req.res.writeHead(200, { 'content-type': 'text/event-stream' });
      req.res.write(chunkFrame('ok'));
      req.res.end('data: [DONE]\n\n');
    };
    const { response } = post(g.url, { model: 'up', stream: true, messages: [{ role: 'user', content: 'x' }] });
    const res = await response;
    let text = '';
    for await (const b of res) text += String(b);
    assert.match(text, /"ok"/);
    assert.ok(text.endsWith('data: [DONE]\n\n'));
  });
});

describe('graceful close', () => {
  test('an in-flight request finishes, new ones are refused, the pools close', async () => {
    const up = await Upstream.start();
    const g = await startGateway(upstreamConfig(up.url));
    try {
      let answer!: () => void;
      up.onChat = (req) => {
        answer = () => {
          req.res.writeHead(200, { 'content-type': 'application/json' });
          req.res.end(JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'up-model', choices: [{ index: 0, message: { role: 'assistant', content: 'finished' }, finish_reason: 'stop' }] }));
        };
      };
      const inflight = fetch(`${g.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'up', messages: [{ role: 'user', content: 'x' }] }),
      });
      await eventually(() => up.requests.length === 1, 'the upstream got the request');
      const closing = g.gw.close(5000);
      await eventually(() => g.gw.app.server.listening === false, 'the server stopped accepting');
      answer();
      const res = await inflight;
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as any).choices[0].message.content, 'finished');
      await closing;
      assert.equal(g.gw.pool.closed, true);
    } finally {
      await g.close();
      await up.close();
    }
  });
});
