import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProviderAdapter, ProviderError, type ChatAdapter } from '../../src/providers/index.js';
import { chunk, collect, sseHead, startUpstream, tick, type Upstream } from './helpers.js';

const KEY = 'sk-test-SECRET-0123456789abcdef';
const USAGE = { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 };
const usageChunk = () => JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: USAGE });
const hi = { model: 'x', messages: [{ role: 'user' as const, content: 'hi' }] };

async function withUpstream(handler: Parameters<typeof startUpstream>[0], fn: (adapter: ChatAdapter, up: Upstream) => Promise<void>, type = 'openai'): Promise<void> {
  const up = await startUpstream(handler);
  const adapter = createProviderAdapter({ name: 'up', type, baseUrl: type === 'anthropic' ? `${up.url}/v1` : up.url, apiKey: KEY }, 'm');
  try {
    await fn(adapter, up);
  } finally {
    await adapter.close();
    await up.close();
  }
}

const text = (frames: Array<string | Uint8Array>) => Buffer.concat(frames.map((f) => Buffer.from(f))).toString('utf8');

describe('the provider stream validates its own first event', () => {
  it('an error frame as the first event rejects chatCompletionStream (routing can still fail over), key scrubbed, counted once', async () => {
    await withUpstream(
      async (_req, res) => {
        sseHead(res);
        res.write(': keep-alive\n\n');
        await tick(2);
        res.end(`data: {"error":{"message":"overloaded for ${KEY}","type":"server_error","code":"overloaded"}}\n\n`);
      },
      async (adapter) => {
        await assert.rejects(adapter.chatCompletionStream(hi), (e: ProviderError) => {
          assert.equal(e.errorClass, 'stream_error');
          assert.equal(e.body.error.code, 'overloaded');
          assert.ok(!JSON.stringify(e.body).includes(KEY));
          return true;
        });
        const c = adapter.counters();
        assert.deepEqual([c.requests, c.failures, c.successes, c.in_flight], [1, 1, 0, 0]);
      },
    );
  });

  it('a malformed first event rejects with bad_response', async () => {
    await withUpstream(
      (_req, res) => {
        sseHead(res);
        res.end('data: {"id":"chatcmpl-1","choices":[{"delta":{"content":"hel\n\n');
      },
      async (adapter) => {
        await assert.rejects(adapter.chatCompletionStream(hi), (e: ProviderError) => e.errorClass === 'bad_response' && e.status === 502);
        assert.equal(adapter.counters().in_flight, 0);
      },
    );
  });

  it('a 200 stream that ends before any event rejects', async () => {
    await withUpstream(
      (_req, res) => {
        sseHead(res);
        res.end(': only a comment\n\n');
      },
      async (adapter) => {
        await assert.rejects(adapter.chatCompletionStream(hi), (e: ProviderError) => e.errorClass === 'stream_error');
      },
    );
  });

  it('does not resolve before the first data event arrives; keep-alives before it are passed on', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await withUpstream(
      async (_req, res) => {
        sseHead(res);
        res.write(': thinking\n\n');
        await gate;
        res.write(`data: ${chunk({ role: 'assistant', content: '' })}\n\n`);
        res.end('data: [DONE]\n\n');
      },
      async (adapter) => {
        let resolved = false;
        const p = adapter.chatCompletionStream(hi).then((s) => {
          resolved = true;
          return s;
        });
        await tick(50);
        assert.equal(resolved, false, 'a keep-alive alone does not open the stream');
        release();
        const s = await p;
        assert.equal(text(await collect(s.sse())), `: thinking\n\ndata: ${chunk({ role: 'assistant', content: '' })}\n\ndata: [DONE]\n\n`);
      },
    );
  });

  it('anthropic: an error event first rejects; message_start first resolves', async () => {
    await withUpstream(
      (req, res) => {
        sseHead(res);
        if (req.json?.messages?.[0]?.content?.[0]?.text === 'fail') {
          res.end('event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n');
          return;
        }
        res.end(
          'event: ping\ndata: {"type":"ping"}\n\n' +
            'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"claude","usage":{"input_tokens":3}}}\n\n' +
            'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}\n\n' +
            'event: message_stop\ndata: {"type":"message_stop"}\n\n',
        );
      },
      async (adapter) => {
        await assert.rejects(adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'fail' }] }), (e: ProviderError) => e.errorClass === 'stream_error' && e.status === 529);
        const s = await adapter.chatCompletionStream(hi);
        const chunks = await collect(s);
        assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
        assert.equal(s.usage?.total_tokens, 5);
      },
      'anthropic',
    );
  });
});

describe('stream usage (#12): asked of the upstream, kept from a client that did not ask', () => {
  const handler = async (_req: unknown, res: import('node:http').ServerResponse) => {
    sseHead(res);
    res.write(`data: ${chunk({ role: 'assistant', content: 'a' })}\n\n`);
    res.write(`data: ${chunk({}, 'stop')}\n\ndata: ${usageChunk()}\n\ndata: [DONE]\n\n`);
    res.end();
  };

  it('the upstream is asked for usage; the usage-only chunk is not sent to a client that did not ask, stream.usage has it', async () => {
    await withUpstream(handler, async (adapter, up) => {
      const s = await adapter.chatCompletionStream(hi);
      assert.deepEqual(up.requests.at(-1)!.json.stream_options, { include_usage: true });
      const out = text(await collect(s.sse()));
      assert.equal(out, `data: ${chunk({ role: 'assistant', content: 'a' })}\n\ndata: ${chunk({}, 'stop')}\n\ndata: [DONE]\n\n`);
      assert.deepEqual(s.usage, USAGE);
      const it = await adapter.chatCompletionStream(hi);
      const chunks = await collect(it);
      assert.equal(chunks.length, 2, 'the iterator drops it too');
      assert.deepEqual(it.usage, USAGE);
    });
  });

  it('a client that asked gets the usage chunk', async () => {
    await withUpstream(handler, async (adapter, up) => {
      const s = await adapter.chatCompletionStream({ ...hi, stream_options: { include_usage: true } });
      assert.deepEqual(up.requests.at(-1)!.json.stream_options, { include_usage: true });
      assert.ok(text(await collect(s.sse())).includes(usageChunk()));
      assert.deepEqual(s.usage, USAGE);
    });
  });

  it('stream.usage survives the client abandoning the stream after the usage arrived', async () => {
    let wroteUsage!: () => void;
    const usageWritten = new Promise<void>((r) => (wroteUsage = r));
    await withUpstream(
      async (_req, res) => {
        sseHead(res);
        res.write(`data: ${chunk({ role: 'assistant', content: 'a' })}\n\n`);
        await tick(5);
        res.write(`data: ${chunk({}, 'stop')}\n\ndata: ${usageChunk()}\n\n`);
        wroteUsage();
        // ...and no [DONE]: the client hangs up first
      },
      async (adapter) => {
        const s = await adapter.chatCompletionStream(hi);
        const it = s.sse()[Symbol.asyncIterator]();
        // Up to the finish chunk (the usage chunk after it is dropped). Frames follow the upstream's
        // network reads: on a loaded machine both writes may arrive in one read, so count bytes, not frames
        // (two next() calls then waited for a third read that never came: a 60 s hang until the idle timeout).
        let seen = '';
        while (!seen.includes('"finish_reason":"stop"')) {
          const r = await it.next();
          assert.equal(r.done, false);
          seen += text([r.value!]);
        }
        await usageWritten;
        let answered = false;
        const pending = it.next().finally(() => (answered = true));
        // The usage chunk reaches the stream (not the client: it did not ask) while the client waits.
        for (const end = Date.now() + 5_000; s.usage === undefined && Date.now() < end; ) await tick(5);
        assert.deepEqual(s.usage, USAGE);
        assert.equal(answered, false, 'the dropped usage chunk yields no frame');
        s.cancel();
        await assert.rejects(pending, (e: ProviderError) => e.errorClass === 'aborted');
        assert.deepEqual(s.usage, USAGE);
      },
    );
  });

  it('presets that refuse stream_options are not asked', async () => {
    await withUpstream(handler, async (adapter, up) => {
      const s = await adapter.chatCompletionStream(hi);
      await collect(s.sse());
      assert.equal(up.requests.at(-1)!.json.stream_options, undefined);
    }, 'zhipu');
  });
});
