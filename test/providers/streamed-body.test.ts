import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, it } from 'node:test';
import { tooLargeError } from '../../src/providers/errors.js';
import { HttpTransport, StreamedBodyHandler, type ResponseBody, type StreamedResponse } from '../../src/providers/transport.js';
import { sseHead, startUpstream, tick } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const POST = { method: 'POST' as const, path: '/s', headers: { 'content-type': 'application/json' }, body: '{}' };

async function open(t: HttpTransport, signal?: AbortSignal, maxBytes = 1 << 20): Promise<ResponseBody> {
  const r = await t.stream({ ...POST, signal }, 'up', maxBytes);
  assert.equal(r.kind, 'stream');
  return (r as Extract<StreamedResponse, { kind: 'stream' }>).body;
}

async function readAll(body: ResponseBody): Promise<string> {
  let out = '';
  for (;;) {
    const r = await body.next();
    if (r.done) return out;
    out += r.value.toString();
  }
}

// Streams are read through undici's handler interface (HttpTransport.stream), not request() and a Readable.
describe('streamed bodies (HttpTransport.stream, StreamedBodyHandler)', () => {
  it('chunks in order, whether they arrive before or while the consumer waits, then done', async () => {
    const up = await startUpstream(async (_req, res) => {
      sseHead(res);
      res.write('a');
      res.write('b');
      await tick(20);
      res.write('c');
      res.end();
    });
    const t = new HttpTransport(up.url);
    try {
      const body = await open(t);
      assert.equal(await readAll(body), 'abc');
      assert.deepEqual(await body.next(), { value: undefined, done: true });
    } finally {
      await t.close();
      await up.close();
    }
  });

  it("the upstream's failure mid-body rejects after what came before it", async () => {
    const up = await startUpstream(async (_req, res) => {
      sseHead(res);
      res.write('x');
      await tick(20);
      res.destroy();
    });
    const t = new HttpTransport(up.url);
    try {
      const body = await open(t);
      assert.equal(String((await body.next()).value), 'x');
      await assert.rejects(body.next());
    } finally {
      await t.close();
      await up.close();
    }
  });

  it('cancel() ends the exchange: the upstream sees its request closed, a later next() rejects', async () => {
    const up = await startUpstream((_req, res) => {
      sseHead(res);
      res.write('x');
    });
    const t = new HttpTransport(up.url);
    try {
      const body = await open(t);
      await body.next();
      t.abandon(body);
      await up.closed;
      await assert.rejects(body.next());
    } finally {
      await t.close();
      await up.close();
    }
  });

  it('a consumer that does not read holds the upstream back (backpressure), and then gets every byte', async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    let blocked = false;
    const up = await startUpstream(async (_req, res) => {
      sseHead(res);
      const block = Buffer.alloc(64 * 1024, 'z');
      while (written < total) {
        written += block.length;
        if (!res.write(block)) {
          blocked = true;
          await new Promise((r) => res.once('drain', r));
        }
      }
      res.end();
    });
    const t = new HttpTransport(up.url);
    try {
      const body = await open(t);
      await body.next();
      await tick(300);
      assert.equal(blocked, true, 'the upstream had to wait');
      assert.ok(written < 16 * 1024 * 1024, `the upstream got ${written} bytes out while nobody read`);
      let n = 0;
      for (;;) {
        const r = await body.next();
        if (r.done) break;
        n += r.value.length;
      }
      assert.equal(n + 64 * 1024 >= total, true);
    } finally {
      await t.close();
      await up.close();
    }
  });

  it('an error status, or JSON where a stream was asked for, comes back read whole', async () => {
    const up = await startUpstream((req, res) => {
      const status = req.url.includes('bad') ? 429 : 200;
      res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '3' });
      res.end('{"error":{"message":"no"}}');
    });
    const t = new HttpTransport(up.url);
    try {
      for (const path of ['/bad', '/json']) {
        const r = await t.stream({ ...POST, path }, 'up', 1024);
        assert.equal(r.kind, 'whole');
        assert.equal(r.statusCode, path === '/bad' ? 429 : 200);
        assert.equal((r as { text: string }).text, '{"error":{"message":"no"}}');
        assert.equal(r.headers['retry-after'], '3');
      }
    } finally {
      await t.close();
      await up.close();
    }
  });

  it("the caller's signal: before the headers it rejects the open, after them the pending read; no listener is left", async () => {
    const up = await startUpstream(async (req, res) => {
      if (req.url.includes('slow')) await tick(200);
      sseHead(res);
      res.write('x');
    });
    const t = new HttpTransport(up.url);
    try {
      const early = new AbortController();
      const opening = t.stream({ ...POST, path: '/slow', signal: early.signal }, 'up', 1024);
      setTimeout(() => early.abort(), 20);
      await assert.rejects(opening, (e: { errorClass?: string }) => e.errorClass === 'aborted');
      assert.equal(getEventListeners(early.signal, 'abort').length, 0);

      const late = new AbortController();
      const body = await open(t, late.signal);
      await body.next();
      const pending = body.next();
      late.abort();
      await assert.rejects(pending);
      assert.equal(getEventListeners(late.signal, 'abort').length, 0);
    } finally {
      await t.close();
      await up.close();
    }
  });

  it('a finished handler lets go of the callbacks, the signal and unread chunks (undici keeps a finished request\'s handler referenced)', async () => {
    const refs: Array<WeakRef<object>> = [];
    const make = () => {
      const resolve = (_r: StreamedResponse) => {};
      const reject = () => {};
      const signal = new AbortController().signal;
      const unread = Buffer.from('data: 2\n\n');
      refs.push(new WeakRef(resolve), new WeakRef(reject), new WeakRef(signal), new WeakRef(unread));
      const h = new StreamedBodyHandler(signal, 1024, resolve, reject, () => tooLargeError('up', 'too large'));
      h.onConnect(() => {});
      h.onHeaders(200, [Buffer.from('Content-Type'), Buffer.from('text/event-stream')], () => {});
      h.onData(Buffer.from('data: 1\n\n'));
      h.onData(unread);
      h.cancel();
      return h;
    };
    const handler = make();
    await tick(0);
    gc();
    assert.deepEqual(
      refs.map((r) => r.deref() === undefined),
      [true, true, true, true],
    );
    assert.ok(handler);
  });
});
