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
    assert.equal(last.error?.code, 'server_shutting_down');
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
});
