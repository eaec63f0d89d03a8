import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
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
      (r) => `answered ${r.status}`,
      () => 'cut',
    );
    await eventually(() => g.gw.router.deploymentHealth().some((d) => d.inFlight > 0), 'the request is in flight');
    await g.gw.close(200);
    // The client is told too, while its connection is still open (it was cut without an answer).
    assert.equal(await pending, 'answered 503');
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
  test('regression: callers queued for an adapter at the shutdown deadline got the adapters the cut streams freed, started new streams, and were then cut without a word (counted as 499); one ended after the ledger\'s last write and had no row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ap-shutdown-'));
    const db = join(dir, 'usage.db');
    try {
      // One adapter: the first stream holds it, two more requests queue behind it.
      const g = await startGateway(`
providers: { slow: { type: mock, mock: { chunks: 200, chunkDelay: 50ms } } }
models: { m: { providers: [{ provider: slow, pool: { maxPoolSize: 1, minPoolSize: 0 } }] } }
usage: { path: "${db}" }
`);
      const post = (stream: boolean) =>
        fetch(`${g.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: 'hi' }] }),
        });
      const first = await post(true);
      const reader = first.body!.getReader();
      await reader.read(); // the first stream holds the only adapter
      const queued = [post(false), post(true)].map((p) =>
        p.then(
          async (r) => ({ status: r.status, text: await r.text() }),
          (e: unknown) => ({ status: 0, text: String(e) }),
        ),
      );
      await eventually(() => g.gw.pool.stats().pools['m:slow']?.waiting === 2, 'two callers queued');
      const closing = g.gw.close(300);
      let text = '';
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        text += new TextDecoder().decode(r.value);
      }
      assert.match(text, /"code":"shutting_down"[^\n]*\n\ndata: \[DONE\]\n\n$/);
      for (const q of await Promise.all(queued)) {
        assert.equal(q.status, 503, q.text);
        assert.equal((JSON.parse(q.text) as { error: { code: string } }).error.code, 'shutting_down');
      }
      await closing;
      const lines = g.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'chat completion' || l.msg === 'chat completion failed');
      assert.deepEqual(lines.map((l) => l.status), [503, 503, 503], g.logs.join(''));
      const rows = new Database(db, { readonly: true }).prepare('SELECT status, error_code FROM adapterpool_usage').all() as Array<{ status: number; error_code: string }>;
      assert.equal(rows.length, 3, 'every request has its ledger row');
      assert.ok(rows.every((r) => r.status === 503 && r.error_code === 'shutting_down'), JSON.stringify(rows));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
