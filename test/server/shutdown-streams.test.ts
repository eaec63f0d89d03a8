import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventually, startGateway } from './helpers.js';

describe('shutdown deadline (issue 16 item 10)', () => {
  test('streams cut at the shutdown deadline get no signal (ECONNRESET): they end with an error event and [DONE]', async () => {
    // A stream far longer than the deadline: 200 chunks, 50 ms apart.
    const g = await startGateway(`
providers: { slow: { type: mock, mock: { chunks: 200, chunkDelay: 50ms } } }
models: { m: { providers: [{ provider: slow }] } }
`);
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const first = await reader.read(); // the stream is under way
    assert.equal(first.done, false);
    const closing = g.gw.close(300);
    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const r = await reader.read(); // throws on a reset
      if (r.done) break;
      text += new TextDecoder().decode(r.value);
    }
    await closing;
    const events = text.split('\n\n').filter(Boolean);
    assert.equal(events.at(-1), 'data: [DONE]', 'the stream ends with [DONE]');
    const last = JSON.parse(events.at(-2)!.slice('data: '.length)) as { error?: { code?: string; type?: string } };
    assert.equal(last.error?.code, 'shutting_down');
    assert.equal(last.error?.type, 'service_unavailable_error');
    assert.ok(events.length < 150, 'it was cut, not finished');
  });

  test('regression: a non-streamed request cut at the shutdown deadline was logged and counted as 499 client_closed ("the client went away"); it is a 503 shutting_down', async () => {
    const g = await startGateway(`
providers: { slow: { type: mock, mock: { latency: 5s } } }
models: { m: { providers: [{ provider: slow }] } }
`);
    const pending = fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    }).then(
      () => 'answered',
      () => 'cut',
    );
    await eventually(() => g.gw.router.deploymentHealth().some((d) => d.inFlight > 0), 'the request is in flight');
    await g.gw.close(200);
    assert.equal(await pending, 'cut');
    const line = g.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'chat completion failed' || l.msg === 'chat completion');
    assert.ok(line !== undefined, g.logs.join(''));
    assert.equal(line.status, 503);
    assert.equal(line.error, 'shutting_down');
  });
  for (const api of ['chat', 'messages'] as const) {
    test(`regression (${api}): a stream that had sent only keep-alive comments ended at the shutdown deadline without an error event, and was logged as the client closing it`, async () => {
      // The first event takes 5 s; comments every 100 ms put the 200 head out long before.
      const g = await startGateway(`
providers: { slow: { type: mock, mock: { latency: 5s } } }
models: { m: { providers: [{ provider: slow }] } }
server: { streamKeepAlive: 100ms }
`);
      const chat = api === 'chat';
      const res = await fetch(`${g.url}${chat ? '/v1/chat/completions' : '/v1/messages'}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', stream: true, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      const first = await reader.read(); // a keep-alive comment
      let text = new TextDecoder().decode(first.value);
      assert.match(text, /^: keep-alive/);
      const closing = g.gw.close(300);
      for (;;) {
        const r = await reader.read(); // throws on a reset
        if (r.done) break;
        text += new TextDecoder().decode(r.value);
      }
      await closing;
      const events = text.split('\n\n').filter((e) => e !== '' && !e.startsWith(':'));
      if (chat) {
        assert.equal(events.at(-1), 'data: [DONE]', text);
        const last = JSON.parse(events.at(-2)!.slice('data: '.length)) as { error?: { code?: string; type?: string } };
        assert.equal(last.error?.code, 'shutting_down');
        assert.equal(last.error?.type, 'service_unavailable_error');
      } else {
        assert.match(events.at(-1)!, /^event: error\n/, text);
        const last = JSON.parse(events.at(-1)!.split('\n')[1]!.slice('data: '.length)) as { type: string; error?: { type?: string } };
        assert.equal(last.type, 'error');
        assert.equal(last.error?.type, 'overloaded_error');
      }
      const line = g.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => typeof l.status === 'number' && l.reqId !== undefined && l.status >= 400);
      assert.ok(line !== undefined, g.logs.join(''));
      // /v1/messages tells every 503 of the error table as Anthropic's 529.
      assert.equal(line.status, chat ? 503 : 529);
      assert.equal(line.error, 'shutting_down');
    });
  }
});
