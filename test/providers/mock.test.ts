import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProviderAdapter, type ChatAdapter, type MockOptions, type ProviderError } from '../../src/providers/index.js';
import { collect } from './helpers.js';

const mock = (opts: MockOptions = {}, model = 'mock-1'): ChatAdapter => createProviderAdapter({ name: 'mock', type: 'mock', mock: opts }, model);
const req = (content = 'hello there') => ({ model: 'x', messages: [{ role: 'user' as const, content }] });

describe('mock provider', () => {
  it('answers deterministically, same text stream or not', async () => {
    const a = mock();
    const b = mock();
    const r1 = await a.chatCompletion(req());
    const r2 = await b.chatCompletion(req());
    assert.equal(r1.choices[0]!.message.content, 'mock reply to: hello there');
    assert.equal(r1.choices[0]!.message.content, r2.choices[0]!.message.content);
    assert.deepEqual(r1.usage, r2.usage);
    assert.equal(r1.id, r2.id);
    assert.equal(r1.model, 'mock-1');
    const s = await a.chatCompletionStream(req());
    const chunks = await collect(s);
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), r1.choices[0]!.message.content);
    assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'stop');
  });

  it('splits the stream into the configured number of chunks and ends sse() with [DONE]', async () => {
    const a = mock({ reply: 'abcdefghij', chunks: 5 });
    const s = await a.chatCompletionStream({ ...req(), stream_options: { include_usage: true } });
    const frames = (await collect(s.sse())).join('').split('\n\n').filter(Boolean);
    assert.equal(frames.at(-1), 'data: [DONE]');
    const parsed = frames.slice(0, -1).map((f) => JSON.parse(f.slice(6)));
    const content = parsed.filter((c) => c.choices[0]?.delta.content);
    assert.deepEqual(content.map((c) => c.choices[0].delta.content), ['ab', 'cd', 'ef', 'gh', 'ij']);
    assert.deepEqual(parsed.at(-1).choices, []);
    assert.deepEqual(s.usage, { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3 });
  });

  it('answers a forced tool call', async () => {
    const a = mock();
    const r = await a.chatCompletion({ ...req(), tools: [{ type: 'function', function: { name: 'lookup' } }], tool_choice: 'required' });
    assert.equal(r.choices[0]!.finish_reason, 'tool_calls');
    assert.equal(r.choices[0]!.message.tool_calls![0]!.function.name, 'lookup');
  });

  it('injects faults on a deterministic schedule with the configured status', async () => {
    const a = mock({ failRate: 0.25, failStatus: 503 });
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      try {
        await a.chatCompletion(req());
        outcomes.push('ok');
      } catch (e) {
        const pe = e as ProviderError;
        assert.equal(pe.status, 503);
        assert.equal(pe.errorClass, 'server_error');
        outcomes.push('fail');
      }
    }
    assert.deepEqual(outcomes, ['ok', 'ok', 'ok', 'fail', 'ok', 'ok', 'ok', 'fail']);
    const c = a.counters();
    assert.equal(c.requests, 8);
    assert.equal(c.failures, 2);
    assert.equal(c.success_rate, 0.75);
    const auth = mock({ failRate: 1, failStatus: 401 });
    await assert.rejects(auth.chatCompletionStream(req()), (e: ProviderError) => e.errorClass === 'auth' && e.action.unhealthy);
  });

  it('can fail inside a stream, after some chunks', async () => {
    const a = mock({ reply: 'abcdefgh', chunks: 4, streamFailAfter: 2 });
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const c of await a.chatCompletionStream(req())) got.push(String(c.choices[0]?.delta.content ?? ''));
      })(),
      (e: ProviderError) => e.errorClass === 'stream_error',
    );
    assert.deepEqual(got, ['', 'ab', 'cd']);
    assert.equal(a.counters().failures, 1);
  });

  it('honours latency and chunk delay, and the caller abort during either', async () => {
    const slow = mock({ latencyMs: 10_000 });
    const ac = new AbortController();
    const p = slow.chatCompletion(req(), { signal: ac.signal });
    ac.abort();
    await assert.rejects(p, (e: ProviderError) => e.errorClass === 'aborted');

    const drip = mock({ chunks: 3, chunkDelayMs: 10_000 });
    const ac2 = new AbortController();
    const s = await drip.chatCompletionStream(req(), { signal: ac2.signal });
    const it = s[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    const pending = it.next();
    ac2.abort();
    await assert.rejects(pending, (e: ProviderError) => e.errorClass === 'aborted');
    assert.equal(drip.counters().in_flight, 0);
    assert.equal(drip.counters().aborted, 1);

    const timed = mock({ latencyMs: 5, chunkDelayMs: 1, chunks: 3 });
    assert.equal((await collect(await timed.chatCompletionStream(req()))).length, 5);
  });

  it('lists its model, reports health as configured, refuses calls once closed', async () => {
    const a = mock({}, 'mock-xl');
    assert.deepEqual(await a.listModels(), [{ id: 'mock-xl', object: 'model', created: 0, owned_by: 'mock' }]);
    assert.equal(await a.healthCheck(), true);
    assert.equal(await mock({ unhealthy: true }).healthCheck(), false);
    await a.close();
    assert.equal(await a.healthCheck(), false);
    await assert.rejects(a.chatCompletion(req()), (e: ProviderError) => e.errorClass === 'network');
  });
});
