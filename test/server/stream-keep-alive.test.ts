import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { chunkFrame, errorReply, eventually, startGateway, Upstream, upstreamConfig, type RunningGateway, type UpstreamRequest } from './helpers.js';

/** The upstream holds its first event back for `ms`, then streams `parts` and [DONE]. */
function slowFirstEvent(ms: number, parts: string[]): (r: UpstreamRequest) => void {
  return (r) => {
    r.res.writeHead(200, { 'content-type': 'text/event-stream' });
    r.res.flushHeaders();
    setTimeout(() => {
      if (r.res.destroyed) return;
      for (const p of parts) r.res.write(chunkFrame(p));
      r.res.end(chunkFrame(null, 'stop') + 'data: [DONE]\n\n');
    }, ms);
  };
}

const chatBody = (model = 'up') => JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'think hard' }] });

async function post(url: string, body: string, path = '/v1/chat/completions'): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('server.streamKeepAlive: comments while a stream waits for its first event', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    g = await startGateway(
      upstreamConfig(
        up.url,
        `  fo: { providers: [{ provider: loop, model: failing }, { provider: loop2, model: up-model }], strategy: failover }
server: { streamKeepAlive: 100ms }`,
      ).replace('routing: { maxAttempts: 1, maxAttemptsPerDeployment: 1 }', 'routing: { maxAttempts: 2, maxAttemptsPerDeployment: 1 }'),
    );
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('a slow first event: the head and keep-alive comments go out first, then the stream as usual', async () => {
    up.onChat = slowFirstEvent(450, ['Hel', 'lo']);
    const r = await post(g.url, chatBody());
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.ok(r.headers.get('x-request-id'), 'the request id is in the committed head');
    const events = r.text.split('\n\n').filter(Boolean);
    const comments = events.filter((e) => e === ': keep-alive');
    assert.ok(comments.length >= 2, `comments before the first event: ${comments.length}`);
    const firstData = events.findIndex((e) => e.startsWith('data: '));
    assert.ok(events.slice(0, firstData).every((e) => e === ': keep-alive'), 'only comments come before the first event');
    assert.equal(events.at(-1), 'data: [DONE]');
    assert.ok(r.text.includes('"Hel"') && r.text.includes('"lo"'));
  });

  test('the OpenAI SDK reads a stream that began with keep-alive comments', async () => {
    up.onChat = slowFirstEvent(300, ['think', 'ing']);
    const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'up', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    assert.equal(text, 'thinking');
  });

  test('a silence after the first event (a model reasoning) gets comments between events, never inside one', async () => {
    up.onChat = (r) => {
      r.res.writeHead(200, { 'content-type': 'text/event-stream' });
      r.res.write(chunkFrame('before'));
      setTimeout(() => {
        if (r.res.destroyed) return;
        r.res.end(chunkFrame('after') + chunkFrame(null, 'stop') + 'data: [DONE]\n\n');
      }, 450);
    };
    const r = await post(g.url, chatBody());
    assert.equal(r.status, 200);
    const events = r.text.split('\n\n').filter(Boolean);
    const before = events.findIndex((e) => e.includes('"before"'));
    const after = events.findIndex((e) => e.includes('"after"'));
    assert.ok(before >= 0 && after > before);
    const between = events.slice(before + 1, after);
    assert.ok(between.length >= 2 && between.every((e) => e === ': keep-alive'), `between the events: ${JSON.stringify(between)}`);
    assert.ok(events.every((e) => e === ': keep-alive' || e.startsWith('data: ')), 'every event is whole');
    assert.equal(events.at(-1), 'data: [DONE]');
  });

  test('a steady stream gets no comment', async () => {
    up.onChat = (r) => {
      r.res.writeHead(200, { 'content-type': 'text/event-stream' });
      let i = 0;
      const t = setInterval(() => {
        if (r.res.destroyed) return clearInterval(t);
        if (++i <= 8) r.res.write(chunkFrame(`p${i}`));
        else {
          clearInterval(t);
          r.res.end(chunkFrame(null, 'stop') + 'data: [DONE]\n\n');
        }
      }, 30);
    };
    const r = await post(g.url, chatBody());
    assert.ok(r.text.includes('"p8"'));
    assert.ok(!r.text.includes(': keep-alive'), r.text);
  });

  test('a fast first event gets no comment and the usual headers (deployment, attempts)', async () => {
    up.onChat = slowFirstEvent(0, ['quick']);
    const r = await post(g.url, chatBody());
    assert.equal(r.status, 200);
    assert.ok(!r.text.includes(': keep-alive'));
    assert.equal(r.headers.get('x-adapterpool-attempts'), '1');
    assert.ok(r.headers.get('x-adapterpool-deployment'));
  });

  test('failing after the head went out: the error comes as an error event and [DONE], and the OpenAI SDK throws it', async () => {
    up.onChat = (r) => setTimeout(() => errorReply(r.res, 500, 'upstream exploded'), 350);
    const before = up.requests.length;
    const r = await post(g.url, chatBody());
    assert.equal(r.status, 200, 'the status went out with the first comment');
    const events = r.text.split('\n\n').filter(Boolean);
    assert.equal(events[0], ': keep-alive');
    assert.equal(events.at(-1), 'data: [DONE]');
    const err = JSON.parse(events.at(-2)!.slice('data: '.length)) as { error: { type: string; code: string; message: string } };
    // What the same failure answers without keep-alive (502, in the error table).
    assert.equal(err.error.type, 'api_error');
    assert.equal(typeof err.error.message, 'string');
    assert.equal(up.requests.length - before, 1);

    const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'up', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    await assert.rejects(async () => {
      for await (const _ of stream) void _;
    }, OpenAI.APIError);
    await eventually(() => g.logs.some((l) => l.includes('"status":502')), 'the log line has the failure with its status');
  });

  test('failover still happens after the head went out: the second deployment serves the stream', async () => {
    up.onChat = (r) => {
      if (r.body.model === 'failing') setTimeout(() => errorReply(r.res, 503, 'overloaded'), 250);
      else slowFirstEvent(0, ['from ', 'backup'])(r);
    };
    const r = await post(g.url, chatBody('fo'));
    assert.equal(r.status, 200);
    assert.ok(r.text.startsWith(': keep-alive\n\n'));
    assert.ok(r.text.includes('"from "') && r.text.includes('"backup"'));
    assert.equal(r.text.split('\n\n').filter(Boolean).at(-1), 'data: [DONE]');
    assert.ok(!r.text.includes('"error"'));
  });

  test('a client that hangs up during the kept-alive wait frees the upstream request and the adapter', async () => {
    let held: UpstreamRequest | undefined;
    up.onChat = (r) => {
      held = r;
      r.res.writeHead(200, { 'content-type': 'text/event-stream' });
      r.res.flushHeaders();
    };
    const ac = new AbortController();
    const res = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody(), signal: ac.signal });
    assert.equal(res.status, 200, 'the head came with the first comment');
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.equal(new TextDecoder().decode(first.value), ': keep-alive\n\n');
    ac.abort();
    await held!.aborted;
    await eventually(() => g.gw.pool.status().in_use_adapters === 0, 'the adapter returned to the pool');
  });

  test('Anthropic clients: comments while waiting, then the translated stream; a late failure is an error event the SDK throws', async () => {
    const client = new Anthropic({ baseURL: g.url, apiKey: 'unused', maxRetries: 0 });
    up.onChat = slowFirstEvent(300, ['Bon', 'jour']);
    const stream = client.messages.stream({ model: 'up', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    const msg = await stream.finalMessage();
    assert.deepEqual(
      msg.content.map((b) => (b.type === 'text' ? b.text : '')),
      ['Bonjour'],
    );

    up.onChat = (r) => setTimeout(() => errorReply(r.res, 500, 'upstream exploded'), 300);
    const failing = client.messages.stream({ model: 'up', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    await assert.rejects(failing.finalMessage(), Anthropic.APIError);
  });
});

describe('server.streamKeepAlive: 0 turns the comments off', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    g = await startGateway(upstreamConfig(up.url, 'server: { streamKeepAlive: 0 }'));
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('a slow first event: no comment, and a failure before it keeps its own status', async () => {
    up.onChat = slowFirstEvent(250, ['late']);
    const ok = await post(g.url, chatBody());
    assert.equal(ok.status, 200);
    assert.ok(!ok.text.includes(': keep-alive'));
    assert.ok(ok.text.startsWith('data: '));

    up.onChat = (r) => setTimeout(() => errorReply(r.res, 500, 'upstream exploded'), 250);
    const failed = await post(g.url, chatBody());
    assert.equal(failed.status, 502);
  });
});
