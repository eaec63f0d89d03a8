import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createProviderAdapter, ProviderError, type ChatAdapter, type ChatCompletionChunk } from '../../src/providers/index.js';
import { chunk, collect, completion, sendJson, sseHead, startUpstream, tick, type Upstream } from './helpers.js';

const KEY = 'sk-test-SECRET-0123456789abcdef';

/** What `sse()` hands the client, as text. */
async function sseText(stream: { sse(): AsyncIterable<string | Uint8Array> }): Promise<string> {
  return Buffer.concat((await collect(stream.sse())).map((f) => Buffer.from(f))).toString('utf8');
}

/** The usage-only chunk (`choices: []`) an upstream sends at a stream's end. */
const usageChunk = (usage: Record<string, number>): string => JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage });

function adapterFor(up: Upstream, extra: Record<string, unknown> = {}): ChatAdapter {
  return createProviderAdapter({ name: 'ark', type: 'volcengine', baseUrl: `${up.url}/api/v3`, apiKey: KEY, ...extra }, 'doubao-seed-1-6-flash-250715');
}

describe('openai-compatible: non-streaming', () => {
  let up: Upstream;
  let adapter: ChatAdapter;
  before(async () => {
    up = await startUpstream((req, res) => {
      if (req.method === 'GET' && req.url === '/api/v3/models') return sendJson(res, 200, { object: 'list', data: [{ id: 'doubao-seed-1-6-flash-250715', object: 'model', created: 7, owned_by: 'volc' }] });
      if (req.json?.tools) {
        return sendJson(res, 200, {
          ...completion('', {}),
          choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] }, finish_reason: 'tool_calls' }],
        });
      }
      sendJson(res, 200, completion('hello', { reasoning_content: 'thought first' }));
    });
    adapter = adapterFor(up, { headers: { 'X-Extra': 'yes' } });
  });
  after(async () => {
    await adapter.close();
    await up.close();
  });

  it('sends the request with our model, bearer auth, extra headers and unknown fields untouched', async () => {
    const res = await adapter.chatCompletion({
      model: 'alias-from-client',
      messages: [{ role: 'user', content: 'hi' }],
      thinking: { type: 'enabled' },
      enable_thinking: true,
      reasoning_effort: 'high',
      stream: true,
      stream_options: { include_usage: true },
    });
    const got = up.requests.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/api/v3/chat/completions');
    assert.equal(got.headers.authorization, `Bearer ${KEY}`);
    assert.equal(got.headers['x-extra'], 'yes');
    assert.equal(got.json.model, 'doubao-seed-1-6-flash-250715');
    assert.deepEqual(got.json.thinking, { type: 'enabled' });
    assert.equal(got.json.enable_thinking, true);
    assert.equal(got.json.reasoning_effort, 'high');
    assert.equal(got.json.stream, undefined, 'a non-stream call never asks for a stream');
    assert.equal(got.json.stream_options, undefined);
    assert.equal(res.object, 'chat.completion');
    assert.equal(res.choices[0]!.message.content, 'hello');
    assert.equal(res.choices[0]!.message.reasoning_content, 'thought first');
    assert.deepEqual(res.usage, { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 });
  });

  it('passes tools through and returns tool calls', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const res = await adapter.chatCompletion({ model: 'x', messages: [{ role: 'user', content: 'weather?' }], tools, tool_choice: 'auto' });
    assert.deepEqual(up.requests.at(-1)!.json.tools, tools);
    assert.equal(up.requests.at(-1)!.json.tool_choice, 'auto');
    assert.equal(res.choices[0]!.finish_reason, 'tool_calls');
    assert.deepEqual(res.choices[0]!.message.tool_calls, [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
  });

  it('lists models and health-checks with GET /models; counts requests', async () => {
    const models = await adapter.listModels();
    assert.deepEqual(models, [{ id: 'doubao-seed-1-6-flash-250715', object: 'model', created: 7, owned_by: 'volc' }]);
    const before = up.requests.length;
    assert.equal(await adapter.healthCheck(), true);
    assert.equal(up.requests.at(-1)!.url, '/api/v3/models');
    assert.equal(up.requests.length, before + 1);
    const c = adapter.counters();
    assert.equal(c.requests, 2);
    assert.equal(c.successes, 2);
    assert.equal(c.failures, 0);
    assert.equal(c.in_flight, 0);
    assert.equal(c.success_rate, 1);
    assert.ok(c.mean_latency_ms >= 0);
  });

  it('reuses one keep-alive connection across sequential calls', async () => {
    const start = up.connections;
    for (let i = 0; i < 5; i++) await adapter.chatCompletion({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
    assert.ok(up.connections - start <= 1, `opened ${up.connections - start} connections`);
  });
});

describe('openai-compatible: health check by completion', () => {
  it('sends a one-token completion when configured', async () => {
    const up = await startUpstream((_req, res) => sendJson(res, 200, completion('.')));
    const adapter = adapterFor(up, { healthCheck: 'completion' });
    try {
      assert.equal(await adapter.healthCheck(), true);
      assert.equal(up.requests[0]!.url, '/api/v3/chat/completions');
      assert.equal(up.requests[0]!.json.max_tokens, 1);
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('rejects with the ProviderError when the upstream refuses the key', async () => {
    const up = await startUpstream((_req, res) => sendJson(res, 401, { error: { message: 'bad key', type: 'invalid_request_error', code: 'invalid_api_key' } }));
    const adapter = adapterFor(up);
    try {
      await assert.rejects(adapter.healthCheck(), (e: ProviderError) => e.errorClass === 'auth' && e.action.unhealthy);
    } finally {
      await adapter.close();
      await up.close();
    }
  });
});

describe('openai-compatible: streaming', () => {
  const frames = [
    chunk({ role: 'assistant', content: '' }),
    chunk({ reasoning_content: 'thinking…' }),
    chunk({ content: 'Hel' }),
    chunk({ content: 'lo "quoted" \\n' }),
    chunk({ content: '!' }, 'stop'),
    JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 } }),
  ];
  let up: Upstream;
  let adapter: ChatAdapter;
  before(async () => {
    up = await startUpstream(async (_req, res) => {
      sseHead(res);
      // Awkward framing on purpose: CRLF line ends, a comment, one frame split across writes, a data line split mid-JSON.
      res.write(': keep-alive\r\n\r\n');
      res.write(`data: ${frames[0]}\r\n\r\ndata: ${frames[1]}\n\n`);
      await tick(2);
      const third = `data: ${frames[2]}\n\n`;
      res.write(third.slice(0, 20));
      await tick(2);
      res.write(third.slice(20) + `data: ${frames[3]}\r`);
      await tick(2);
      res.write(`\n\r\ndata: ${frames[4]}\n\ndata: ${frames[5]}\n\ndata: [DONE]\n\n`);
      res.end();
    });
    adapter = adapterFor(up);
  });
  after(async () => {
    await adapter.close();
    await up.close();
  });

  it('yields parsed chunks in order, reasoning_content included, and tracks usage', async () => {
    const stream = await adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream_options: { include_usage: true } });
    assert.equal(up.requests.at(-1)!.json.stream, true);
    assert.deepEqual(up.requests.at(-1)!.json.stream_options, { include_usage: true });
    assert.equal(up.requests.at(-1)!.headers.accept, 'text/event-stream');
    const chunks: ChatCompletionChunk[] = await collect(stream);
    assert.deepEqual(chunks.map((c) => JSON.stringify(c)), frames.map((f) => JSON.stringify(JSON.parse(f))));
    assert.equal(chunks[1]!.choices[0]!.delta.reasoning_content, 'thinking…');
    assert.deepEqual(stream.usage, { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 });
    const c = adapter.counters();
    assert.equal(c.successes, 1);
    assert.equal(c.in_flight, 0);
  });

  it('sse() passes the upstream data payloads through byte for byte and ends with [DONE]', async () => {
    // Since #10 the upstream's bytes go out exactly as they came (its CRLF framing included), and the
    // usage chunk reaches a client that asked for it (one that did not: see the test below).
    const stream = await adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream_options: { include_usage: true } });
    const text = await sseText(stream);
    const expected =
      ': keep-alive\r\n\r\n' +
      `data: ${frames[0]}\r\n\r\ndata: ${frames[1]}\n\n` +
      `data: ${frames[2]}\n\n` +
      `data: ${frames[3]}\r\n\r\ndata: ${frames[4]}\n\ndata: ${frames[5]}\n\ndata: [DONE]\n\n`;
    assert.equal(text, expected);
    assert.deepEqual(stream.usage, { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 });
  });

  it('a consumed stream cannot be consumed again', async () => {
    const stream = await adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
    await collect(stream);
    await assert.rejects(collect(stream.sse()), /consumed once/);
  });
});

describe('openai-compatible: a usage chunk the upstream sends unasked', () => {
  it('reached a client that did not ask for usage (a provider with streamUsage off, e.g. zhipu): it is kept from the client, its usage still read', async () => {
    const usage = { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 };
    const up = await startUpstream(async (_req, res) => {
      sseHead(res);
      res.write(`data: ${chunk({ role: 'assistant', content: 'hi' })}\n\n`);
      res.write(`data: ${chunk({}, 'stop')}\n\n`);
      res.write(`data: ${usageChunk(usage)}\n\n`);
      res.end('data: [DONE]\n\n');
    });
    const adapter = createProviderAdapter({ name: 'glm', type: 'zhipu', baseUrl: `${up.url}/v4`, apiKey: KEY }, 'glm-4-flash');
    try {
      const unasked = await adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(up.requests.at(-1)!.json.stream_options, undefined, 'zhipu is not asked for usage');
      const text = await sseText(unasked);
      assert.ok(!text.includes('"choices":[]'), text);
      assert.ok(text.endsWith('data: [DONE]\n\n'));
      assert.deepEqual(unasked.usage, usage);
      const asked = await adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream_options: { include_usage: true } });
      const askedText = await sseText(asked);
      assert.ok(askedText.includes('"choices":[]'), 'a client that asked gets it');
    } finally {
      await adapter.close();
      await up.close();
    }
  });
});

describe('openai-compatible: failures inside a stream', () => {
  let up: Upstream;
  let adapter: ChatAdapter;
  before(async () => {
    up = await startUpstream(async (req, res) => {
      const mode = req.json?.messages?.[0]?.content;
      if (mode === 'json-error') return sendJson(res, 200, { error: { message: 'quota gone', type: 'insufficient_quota', code: 'insufficient_quota' } });
      sseHead(res);
      res.write(`data: ${chunk({ role: 'assistant', content: 'par' })}\n\n`);
      await tick(2);
      if (mode === 'error-frame') {
        res.write(`data: {"error":{"message":"upstream overloaded for key ${KEY}","type":"server_error","code":"overloaded"}}\n\n`);
        res.end();
      } else if (mode === 'clean-end') {
        res.end(); // response completes, but no [DONE]
      } else {
        res.socket?.destroy(); // connection cut mid-stream
      }
    });
    adapter = adapterFor(up);
  });
  after(async () => {
    await adapter.close();
    await up.close();
  });

  const open = (content: string) => adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content }] });

  it('an error frame inside a 200 stream throws stream_error (after the chunks before it), key redacted', async () => {
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const f of (await open('error-frame')).sse()) got.push(String(f));
      })(),
      (e: ProviderError) => {
        assert.equal(e.errorClass, 'stream_error');
        assert.equal(e.body.error.code, 'overloaded');
        assert.ok(!e.message.includes(KEY), e.message);
        assert.ok(!JSON.stringify(e.body).includes(KEY));
        return true;
      },
    );
    assert.ok(got.join('').includes('"par"'), 'the chunk before the error was delivered');
    assert.ok(!got.join('').includes('[DONE]'));
  });

  it('the iterator also throws on the error frame', async () => {
    await assert.rejects(collect(await open('error-frame')), (e: ProviderError) => e.errorClass === 'stream_error');
  });

  it('a stream that ends without [DONE] is an error, not a silent end', async () => {
    await assert.rejects(collect(await open('clean-end')), (e: ProviderError) => e.errorClass === 'stream_error' && e.status === 502);
  });

  it('a connection cut mid-stream is a network error', async () => {
    await assert.rejects(collect((await open('cut')).sse()), (e: ProviderError) => e.errorClass === 'network' && e.status === 502);
  });

  it('a 200 JSON error body instead of SSE rejects before the stream opens, classified', async () => {
    await assert.rejects(open('json-error'), (e: ProviderError) => e.errorClass === 'quota' && e.action.unhealthy);
  });

  it('counts those as failures', () => {
    const c = adapter.counters();
    assert.equal(c.failures, 5);
    assert.equal(c.successes, 0);
    assert.equal(c.in_flight, 0);
    assert.equal(c.success_rate, 0);
  });
});

describe('openai-compatible: a finished stream that ends without [DONE]', () => {
  it('(Azure\'s DeepSeek after a content filter, some self-hosted servers) was turned into an error after the whole answer: after a finish_reason it ends well, and the client still gets [DONE]', async () => {
    const usage = { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 };
    const up = await startUpstream(async (req, res) => {
      sseHead(res);
      res.write(`data: ${chunk({ role: 'assistant', content: 'whole' })}\n\n`);
      if (req.json?.messages?.[0]?.content === 'cut-before-finish') {
        res.end();
        return;
      }
      // Python-style separators: the scan must see the key with spaces too.
      res.write(`data: ${JSON.stringify(JSON.parse(chunk({}, 'content_filter')), null, 0).replace('"finish_reason":', '"finish_reason": ')}\n\n`);
      res.write(`data: ${usageChunk(usage)}\n\n`);
      res.end(); // no [DONE]
    });
    const adapter = adapterFor(up);
    const open = (content: string, include_usage = true) => adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content }], stream_options: { include_usage } });
    try {
      const s = await open('finished');
      const text = await sseText(s);
      assert.match(text, /"whole"/);
      assert.ok(text.endsWith('data: [DONE]\n\n'), 'the client gets [DONE]');
      assert.equal(text.match(/\[DONE\]/g)!.length, 1);
      assert.deepEqual(s.usage, usage);
      const chunks = await collect(await open('finished'));
      assert.equal(chunks.at(-1)!.choices.length, 0, 'the iterator ends well too, with the usage chunk');
      // Before any finish_reason, the end of the body is still a cut stream.
      await assert.rejects(collect((await open('cut-before-finish')).sse()), (e: ProviderError) => e.errorClass === 'stream_error' && e.body.error.code === 'stream_incomplete');
      const c = adapter.counters();
      assert.equal(c.successes, 2);
      assert.equal(c.failures, 1);
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('with n: 2, a body cut after the first choice\'s finish_reason but before the second\'s counted as whole: only [DONE] ends such a stream well', async () => {
    const up = await startUpstream(async (req, res) => {
      sseHead(res);
      const c = (index: number, delta: Record<string, unknown>, finish: string | null = null) => JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index, delta, finish_reason: finish }] });
      res.write(`data: ${c(0, { role: 'assistant', content: 'first' })}\n\n`);
      res.write(`data: ${c(1, { role: 'assistant', content: 'sec' })}\n\n`);
      res.write(`data: ${c(0, {}, 'stop')}\n\n`);
      if (req.json?.n === 2) {
        res.end(); // choice 1 never finished, no [DONE]
        return;
      }
      res.end(); // n absent: one choice as far as the client asked; it finished
    });
    const adapter = adapterFor(up);
    try {
      const two = await adapter.chatCompletionStream({ model: 'x', n: 2, messages: [{ role: 'user', content: 'hi' }] });
      await assert.rejects(collect(two.sse()), (e: ProviderError) => e.errorClass === 'stream_error' && e.body.error.code === 'stream_incomplete');
      const one = await adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
      assert.ok((await sseText(one)).endsWith('data: [DONE]\n\n'), 'a single-choice request still ends well after its finish_reason');
    } finally {
      await adapter.close();
      await up.close();
    }
  });
});

describe('openai-compatible: the caller hangs up', () => {
  it('aborting mid-stream closes the upstream request at once', async () => {
    const up = await startUpstream(async (_req, res) => {
      sseHead(res);
      res.write(`data: ${chunk({ role: 'assistant', content: 'a' })}\n\n`);
      // then nothing: a slow model
    });
    const adapter = adapterFor(up);
    const ac = new AbortController();
    try {
      const stream = await adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }, { signal: ac.signal });
      const it = stream[Symbol.asyncIterator]();
      const first = await it.next();
      assert.equal(first.value?.choices[0]?.delta.content, 'a');
      const pending = it.next();
      ac.abort();
      await assert.rejects(pending, (e: ProviderError) => e.errorClass === 'aborted' && !e.action.retry);
      await up.closed; // the upstream saw the request go away
      const c = adapter.counters();
      assert.equal(c.aborted, 1);
      assert.equal(c.failures, 0);
      assert.equal(c.in_flight, 0);
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('cancel() releases the upstream request too', async () => {
    const up = await startUpstream(async (_req, res) => {
      sseHead(res);
      res.write(`data: ${chunk({ content: 'a' })}\n\n`);
    });
    const adapter = adapterFor(up);
    try {
      const stream = await adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
      stream.cancel();
      stream.cancel(); // idempotent
      await up.closed;
      assert.equal(adapter.counters().in_flight, 0);
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('breaking out of the iteration releases the upstream request', async () => {
    const up = await startUpstream(async (_req, res) => {
      sseHead(res);
      res.write(`data: ${chunk({ content: 'a' })}\n\n`);
    });
    const adapter = adapterFor(up);
    try {
      const stream = await adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
      for await (const _c of stream) break;
      await up.closed;
      assert.equal(adapter.counters().in_flight, 0);
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('aborting a non-streaming call waiting for its answer', async () => {
    const up = await startUpstream(() => {
      /* never answers */
    });
    const adapter = adapterFor(up);
    const ac = new AbortController();
    try {
      const p = adapter.chatCompletion({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }, { signal: ac.signal });
      while (up.requests.length === 0) await tick(1);
      ac.abort();
      await assert.rejects(p, (e: ProviderError) => e.errorClass === 'aborted' && e.status === 499);
      await up.closed;
    } finally {
      await adapter.close();
      await up.close();
    }
  });
});

describe('openai-compatible: keys stay secret', () => {
  it('redacts the key echoed in an upstream error message', async () => {
    const up = await startUpstream((_req, res) =>
      sendJson(res, 401, { error: { message: `Incorrect API key provided: ${KEY}. Or ${KEY.slice(0, 8)}****${KEY.slice(-4)}`, type: 'invalid_request_error', code: 'invalid_api_key' } }),
    );
    const logs: unknown[] = [];
    const adapter = createProviderAdapter({ name: 'oa', type: 'openai', baseUrl: up.url, apiKey: KEY }, 'gpt-4o-mini', {
      logger: { debug: (o, m) => logs.push(o, m) },
    });
    try {
      await assert.rejects(adapter.chatCompletion({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }), (e: ProviderError) => {
        assert.equal(e.errorClass, 'auth');
        assert.ok(!e.message.includes(KEY) && !e.message.includes(KEY.slice(0, 8)), e.message);
        assert.ok(!JSON.stringify(e.body).includes(KEY));
        return true;
      });
      assert.ok(logs.length > 0);
      assert.ok(!JSON.stringify(logs).includes(KEY));
      assert.ok(!JSON.stringify(adapter.counters()).includes(KEY));
    } finally {
      await adapter.close();
      await up.close();
    }
  });
});

describe('openai: max_tokens goes as max_completion_tokens (OpenAI reasoning models refuse max_tokens)', () => {
  let up: Upstream;
  before(async () => {
    up = await startUpstream((req, res) => {
      if (req.json?.stream) {
        sseHead(res);
        res.write(`data: ${chunk({ role: 'assistant', content: 'a' })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      sendJson(res, 200, completion('pong'));
    });
  });
  after(async () => {
    await up.close();
  });
  const hi = { model: 'x', messages: [{ role: 'user' as const, content: 'hi' }] };

  it('an openai deployment gets max_completion_tokens for max_tokens, streaming or not; a request that sets both is sent as it is', async () => {
    const adapter = createProviderAdapter({ name: 'oa', type: 'openai', baseUrl: up.url, apiKey: KEY }, 'o3-mini');
    try {
      await adapter.chatCompletion({ ...hi, max_tokens: 7 });
      await collect(await adapter.chatCompletionStream({ ...hi, max_tokens: 9 }));
      await adapter.chatCompletion({ ...hi, max_tokens: 3, max_completion_tokens: 4 });
      const sent = up.requests.slice(-3).map((r) => ({ max_tokens: r.json.max_tokens, max_completion_tokens: r.json.max_completion_tokens }));
      assert.deepEqual(sent, [
        { max_tokens: undefined, max_completion_tokens: 7 },
        { max_tokens: undefined, max_completion_tokens: 9 },
        { max_tokens: 3, max_completion_tokens: 4 },
      ]);
    } finally {
      await adapter.close();
    }
  });

  it('azure-openai sent max_tokens, which its o-series deployments refuse: from api-version 2024-09-01 it sends max_completion_tokens, before it max_tokens', async () => {
    const current = createProviderAdapter({ name: 'az', type: 'azure-openai', baseUrl: up.url, apiKey: KEY, deployment: 'o4-mini' }, 'o4-mini');
    const old = createProviderAdapter({ name: 'az-old', type: 'azure-openai', baseUrl: up.url, apiKey: KEY, deployment: 'gpt-4', apiVersion: '2024-06-01' }, 'gpt-4');
    try {
      await current.chatCompletion({ ...hi, max_tokens: 7 });
      await collect(await current.chatCompletionStream({ ...hi, max_tokens: 9 }));
      await old.chatCompletion({ ...hi, max_tokens: 5 });
      const sent = up.requests.slice(-3).map((r) => ({ max_tokens: r.json.max_tokens, max_completion_tokens: r.json.max_completion_tokens }));
      assert.deepEqual(sent, [
        { max_tokens: undefined, max_completion_tokens: 7 },
        { max_tokens: undefined, max_completion_tokens: 9 },
        { max_tokens: 5, max_completion_tokens: undefined },
      ]);
    } finally {
      await current.close();
      await old.close();
    }
  });

  it('other OpenAI-compatible types keep max_tokens (most know only that one)', async () => {
    const adapter = createProviderAdapter({ name: 'ds', type: 'openai-compatible', baseUrl: up.url, apiKey: KEY }, 'm');
    try {
      await adapter.chatCompletion({ ...hi, max_tokens: 7 });
      const last = up.requests.at(-1)!.json;
      assert.equal(last.max_tokens, 7);
      assert.equal(last.max_completion_tokens, undefined);
    } finally {
      await adapter.close();
    }
  });
});
