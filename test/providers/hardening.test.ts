import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { toProviderConfig } from '../../src/config/derive.js';
import {
  createProviderAdapter,
  SseByteScanner,
  SseParser,
  type ChatAdapter,
  type ProviderError,
  type RawSseEvent,
  type SseComment,
  type SseEvent,
} from '../../src/providers/index.js';
import { toErrorReply } from '../../src/server/errors.js';
import { chunk, collect, completion, sendJson, sseHead, startUpstream, tick, type Upstream } from './helpers.js';

const hi = { model: 'x', messages: [{ role: 'user' as const, content: 'hi' }] };
const MB = 1024 * 1024;

async function withAdapter(up: Upstream, extra: Record<string, unknown>, fn: (a: ChatAdapter) => Promise<void>): Promise<void> {
  const adapter = createProviderAdapter({ name: 'up', type: 'openai', baseUrl: up.url, apiKey: 'sk-x', ...extra }, 'm');
  try {
    await fn(adapter);
  } finally {
    await adapter.close();
    await up.close();
  }
}

/** Write `total` bytes of one line that never ends, in 64 KB writes, respecting backpressure. */
async function writeEndlessLine(res: import('node:http').ServerResponse, head: string, total: number): Promise<void> {
  res.write(head);
  const piece = Buffer.alloc(64 * 1024, 'x');
  for (let sent = 0; sent < total && !res.destroyed; sent += piece.length) {
    if (!res.write(piece)) {
      // One wait at a time: a listener left from each wait would pile up on the response.
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done).off('close', done);
          resolve();
        };
        res.on('drain', done).on('close', done);
      });
    }
  }
}

describe('#16 item 6: an SSE line with no newline is parsed in quadratic time', () => {
  const TOTAL = 20 * MB;
  const PIECE = 64 * 1024;

  it('the byte scanner looks at each byte of a 20 MB line at most twice (once per line-end search)', () => {
    const scanner = new SseByteScanner();
    let scanned = 0;
    const out: RawSseEvent[] = [];
    const piece = Buffer.alloc(PIECE, 'x');
    for (let sent = 0; sent < TOTAL; sent += PIECE) {
      const buf = Buffer.from(piece);
      const indexOf = buf.indexOf.bind(buf) as (value: number, from: number) => number;
      (buf as unknown as { indexOf: (value: number, from: number) => number }).indexOf = (value, from) => {
        const at = indexOf(value, from);
        scanned += (at === -1 ? buf.length : at + 1) - from;
        return at;
      };
      scanner.push(buf, out);
    }
    assert.equal(out.length, 0);
    assert.ok(scanned <= 2 * TOTAL, `scanned ${scanned} bytes for ${TOTAL}`);
  });

  it('the text parser scans each character of a 20 MB line at most twice', () => {
    const parser = new SseParser();
    const out: Array<SseEvent | SseComment> = [];
    const piece = 'x'.repeat(PIECE);
    const original = String.prototype.indexOf;
    let scanned = 0;
    String.prototype.indexOf = function (this: string, search: string, from = 0) {
      const at = original.call(this, search, from);
      if (search === '\n' || search === '\r') scanned += (at === -1 ? this.length : at + 1) - from;
      return at;
    };
    try {
      for (let sent = 0; sent < TOTAL; sent += PIECE) parser.push(piece, out);
      parser.push('\n\n', out);
    } finally {
      String.prototype.indexOf = original;
    }
    assert.equal(out.length, 0, 'a line without "data:" is no event');
    assert.ok(scanned <= 2 * TOTAL + 16, `scanned ${scanned} characters for ${TOTAL}`);
  });

  it('a 20 MB first event with no newline ends at maxEventSize: 502 upstream_response_too_large, the socket dropped', async () => {
    const up = await startUpstream(async (_req, res) => {
      sseHead(res);
      await writeEndlessLine(res, 'data: {"choices":[{"delta":{"content":"', TOTAL);
    });
    await withAdapter(up, { maxEventSize: MB }, async (adapter) => {
      await assert.rejects(adapter.chatCompletionStream(hi), (e: ProviderError) => {
        assert.equal(e.errorClass, 'response_too_large');
        assert.equal(e.action.failover, true);
        const reply = toErrorReply(e);
        assert.equal(reply.status, 502);
        assert.equal(reply.body.error.code, 'upstream_response_too_large');
        return true;
      });
      await up.closed;
    });
  });

  it('after the first event, an oversized event ends the stream with the error (what came before delivered)', async () => {
    const up = await startUpstream(async (_req, res) => {
      sseHead(res);
      res.write(`data: ${chunk({ role: 'assistant', content: 'a' })}\n\n`);
      await tick(5);
      await writeEndlessLine(res, 'data: {"choices":[{"delta":{"content":"', 4 * MB);
    });
    await withAdapter(up, { maxEventSize: MB }, async (adapter) => {
      const s = await adapter.chatCompletionStream(hi);
      const got: Buffer[] = [];
      await assert.rejects(
        (async () => {
          for await (const f of s.sse()) got.push(Buffer.from(f));
        })(),
        (e: ProviderError) => e.errorClass === 'response_too_large' && toErrorReply(e).body.error.code === 'upstream_response_too_large',
      );
      assert.equal(Buffer.concat(got).toString(), `data: ${chunk({ role: 'assistant', content: 'a' })}\n\n`);
      assert.equal(adapter.counters().failures, 1);
    });
  });

  for (const framing of ['content-length', 'chunked'] as const) {
    it(`a non-streaming body over maxResponseSize (${framing}) is dropped at the cap: 502 upstream_response_too_large`, async () => {
      const up = await startUpstream(async (_req, res) => {
        if (framing === 'content-length') {
          const body = JSON.stringify(completion('y'.repeat(3 * MB)));
          return sendJson(res, 200, body);
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        await writeEndlessLine(res, '{"choices":[{"message":{"content":"', 20 * MB);
        res.end();
      });
      await withAdapter(up, { maxResponseSize: MB }, async (adapter) => {
        await assert.rejects(adapter.chatCompletion(hi), (e: ProviderError) => e.errorClass === 'response_too_large' && toErrorReply(e).status === 502);
        // The adapter still works for a normal answer after it.
      });
    });
  }

  it('error bodies are capped too', async () => {
    const up = await startUpstream(async (_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      await writeEndlessLine(res, '{"error":{"message":"', 4 * MB);
      res.end();
    });
    await withAdapter(up, { maxResponseSize: MB }, async (adapter) => {
      await assert.rejects(adapter.chatCompletion(hi), (e: ProviderError) => e.errorClass === 'response_too_large');
    });
  });

  it('config: providers.*.maxResponseSize (16mb) and maxEventSize (8mb) by default, sizes accepted', () => {
    const cfg = parseConfig('providers: { a: { type: mock }, b: { type: openai, apiKey: k, maxResponseSize: 1mb, maxEventSize: 64kb } }\nmodels: { m: { providers: [{ provider: a }] } }');
    assert.equal(cfg.providers.a!.maxResponseSize, 16 * MB);
    assert.equal(cfg.providers.a!.maxEventSize, 8 * MB);
    const b = toProviderConfig('b', cfg.providers.b!);
    assert.equal(b.maxResponseSize, MB);
    assert.equal(b.maxEventSize, 64 * 1024);
  });
});

describe('#16 item 8: a malformed chunk after the first stream event is relayed verbatim and the stream counted a success', () => {
  const garbled = 'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"tru\n\n';
  const handler = async (_req: unknown, res: import('node:http').ServerResponse) => {
    sseHead(res);
    res.write(`data: ${chunk({ role: 'assistant', content: 'a' })}\n\n`);
    await tick(2);
    res.write(garbled);
    res.end(`data: ${chunk({ content: 'b' }, 'stop')}\n\ndata: [DONE]\n\n`);
  };

  it('sse(): the stream ends with bad_response before the malformed bytes; counted as a failure', async () => {
    const up = await startUpstream(handler);
    await withAdapter(up, {}, async (adapter) => {
      const s = await adapter.chatCompletionStream(hi);
      const got: Buffer[] = [];
      await assert.rejects(
        (async () => {
          for await (const f of s.sse()) got.push(Buffer.from(f));
        })(),
        (e: ProviderError) => e.errorClass === 'bad_response' && e.status === 502 && e.action.cooldown,
      );
      assert.equal(Buffer.concat(got).toString(), `data: ${chunk({ role: 'assistant', content: 'a' })}\n\n`);
      const c = adapter.counters();
      assert.deepEqual([c.successes, c.failures, c.in_flight], [0, 1, 0]);
    });
  });

  it('the iterator throws too, and a payload that is not JSON at all is caught the same way', async () => {
    const up = await startUpstream(async (req, res) => {
      sseHead(res);
      res.write(`data: ${chunk({ role: 'assistant', content: 'a' })}\n\n`);
      res.end(req.json?.messages?.[0]?.content === 'text' ? 'data: upstream says hello\n\ndata: [DONE]\n\n' : `${garbled}data: [DONE]\n\n`);
    });
    await withAdapter(up, {}, async (adapter) => {
      await assert.rejects(collect(await adapter.chatCompletionStream(hi)), (e: ProviderError) => e.errorClass === 'bad_response');
      const s = await adapter.chatCompletionStream({ ...hi, messages: [{ role: 'user', content: 'text' }] });
      await assert.rejects(collect(s.sse()), (e: ProviderError) => e.errorClass === 'bad_response');
    });
  });
});
