import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createProviderAdapter, ProviderError, type ChatAdapter, type ChatCompletionChunk } from '../../src/providers/index.js';
import { collect, sendJson, sseHead, startUpstream, tick, type Upstream } from './helpers.js';

const KEY = 'sk-ant-test-0123456789abcdefgh';

function event(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

const STREAM = [
  event('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, usage: { input_tokens: 10, output_tokens: 1, cache_creation_input_tokens: 2, cache_read_input_tokens: 5 } } }),
  event('ping', {}),
  event('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '' } }),
  event('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'Let me think.' } }),
  event('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'sig' } }),
  event('content_block_stop', { index: 0 }),
  event('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
  event('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Checking ' } }),
  event('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'weather.' } }),
  event('content_block_stop', { index: 1 }),
  event('content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} } }),
  event('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '{"city":' } }),
  event('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '"Paris"}' } }),
  event('content_block_stop', { index: 2 }),
  event('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 30 } }),
  event('message_stop', {}),
];

describe('anthropic: request translation (what the upstream receives)', () => {
  let up: Upstream;
  let adapter: ChatAdapter;
  before(async () => {
    up = await startUpstream((_req, res) =>
      sendJson(res, 200, { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } }),
    );
    adapter = createProviderAdapter({ name: 'claude', type: 'anthropic', baseUrl: `${up.url}/v1`, apiKey: KEY, defaultMaxTokens: 2048 }, 'claude-sonnet-4-5');
  });
  after(async () => {
    await adapter.close();
    await up.close();
  });

  it('system to top level, tools, tool_choice, tool calls and results, stop, user, max_tokens default, headers', async () => {
    await adapter.chatCompletion({
      model: 'alias',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Use tools.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'toolu_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'toolu_b', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_a', content: '18C' },
        { role: 'tool', tool_call_id: 'toolu_b', content: '24C' },
        { role: 'user', content: 'Thanks' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
      tool_choice: 'required',
      parallel_tool_calls: false,
      stop: 'END',
      user: 'u-42',
      temperature: 1.7,
      top_k: 5,
      frequency_penalty: 0.5,
    });
    const got = up.requests.at(-1)!;
    assert.equal(got.url, '/v1/messages');
    assert.equal(got.headers['x-api-key'], KEY);
    assert.equal(got.headers['anthropic-version'], '2023-06-01');
    assert.equal(got.headers.authorization, undefined);
    assert.deepEqual(got.json, {
      model: 'claude-sonnet-4-5',
      max_tokens: 2048,
      system: 'Be brief.\n\nUse tools.',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_b', name: 'get_weather', input: { city: 'Rome' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_a', content: '18C' },
            { type: 'tool_result', tool_use_id: 'toolu_b', content: '24C' },
            { type: 'text', text: 'Thanks' },
          ],
        },
      ],
      top_k: 5,
      temperature: 1,
      stop_sequences: ['END'],
      metadata: { user_id: 'u-42' },
      tools: [{ name: 'get_weather', description: 'Weather by city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
    });
  });

  it('named tool_choice, max_completion_tokens, thinking passes through, stream flag', async () => {
    await adapter.chatCompletionStream({
      model: 'alias',
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ type: 'function', function: { name: 'f' } }],
      tool_choice: { type: 'function', function: { name: 'f' } },
      max_completion_tokens: 99,
      thinking: { type: 'enabled', budget_tokens: 1024 },
    }).then((s) => s.cancel(), () => {});
    const got = up.requests.at(-1)!.json;
    assert.deepEqual(got.tool_choice, { type: 'tool', name: 'f' });
    assert.deepEqual(got.tools, [{ name: 'f', input_schema: { type: 'object', properties: {} } }]);
    assert.equal(got.max_tokens, 99);
    assert.deepEqual(got.thinking, { type: 'enabled', budget_tokens: 1024 });
    assert.equal(got.stream, true);
    assert.equal(up.requests.at(-1)!.headers.accept, 'text/event-stream');
  });

  it('max_tokens falls back to 4096 when neither the request nor the config sets it', async () => {
    const a = createProviderAdapter({ name: 'claude', type: 'anthropic', baseUrl: `${up.url}/v1`, apiKey: KEY }, 'claude-haiku-4-5');
    try {
      await a.chatCompletion({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(up.requests.at(-1)!.json.max_tokens, 4096);
    } finally {
      await a.close();
    }
  });

  it('regression: n: 3 was dropped and one choice came back as if asked for: 400 naming n, nothing sent', async () => {
    const before = up.requests.length;
    await assert.rejects(adapter.chatCompletion({ model: 'x', n: 3, messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.equal(err.name, 'InvalidRequestError');
      assert.equal((err as Error & { param?: string }).param, 'n');
      assert.match(err.message, /one choice/);
      return true;
    });
    assert.equal(up.requests.length, before);
    await adapter.chatCompletion({ model: 'x', n: 1, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(up.requests.length, before + 1, 'n: 1 is fine');
  });
});

describe('anthropic: response translation', () => {
  it('text, thinking -> reasoning_content, tool_use -> tool_calls, stop reason and usage with cache tokens', async () => {
    const up = await startUpstream((_req, res) =>
      sendJson(res, 200, {
        id: 'msg_2',
        type: 'message',
        role: 'assistant',
        model: 'claude-sonnet-4-5',
        content: [
          { type: 'thinking', thinking: 'Need the tool.', signature: 's' },
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_use', id: 'toolu_9', name: 'get_weather', input: { city: 'Paris' } },
        ],
        stop_reason: 'tool_use',
        usage: { input_tokens: 100, output_tokens: 20, cache_creation_input_tokens: 30, cache_read_input_tokens: 50 },
      }),
    );
    const adapter = createProviderAdapter({ name: 'claude', type: 'anthropic', baseUrl: `${up.url}/v1`, apiKey: KEY }, 'claude-sonnet-4-5');
    try {
      const res = await adapter.chatCompletion({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(res.object, 'chat.completion');
      assert.equal(res.id, 'msg_2');
      assert.equal(res.choices[0]!.finish_reason, 'tool_calls');
      assert.equal(res.choices[0]!.message.content, 'Let me check.');
      assert.equal(res.choices[0]!.message.reasoning_content, 'Need the tool.');
      assert.deepEqual(res.choices[0]!.message.tool_calls, [{ id: 'toolu_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
      assert.deepEqual(res.usage, {
        prompt_tokens: 180,
        completion_tokens: 20,
        total_tokens: 200,
        prompt_tokens_details: { cached_tokens: 50 },
        cache_creation_input_tokens: 30,
        cache_read_input_tokens: 50,
      });
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('maps every stop reason', async () => {
    const { toFinishReason } = await import('../../src/providers/anthropic/translate.js');
    assert.equal(toFinishReason('end_turn'), 'stop');
    assert.equal(toFinishReason('stop_sequence'), 'stop');
    assert.equal(toFinishReason('pause_turn'), 'stop');
    assert.equal(toFinishReason('tool_use'), 'tool_calls');
    assert.equal(toFinishReason('max_tokens'), 'length');
    assert.equal(toFinishReason('model_context_window_exceeded'), 'length');
    assert.equal(toFinishReason('refusal'), 'content_filter');
  });

  it('an Anthropic error body is normalized (529 overloaded -> retry elsewhere)', async () => {
    const up = await startUpstream((_req, res) => sendJson(res, 529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
    const adapter = createProviderAdapter({ name: 'claude', type: 'anthropic', baseUrl: `${up.url}/v1`, apiKey: KEY }, 'claude-sonnet-4-5');
    try {
      await assert.rejects(adapter.chatCompletion({ model: 'x', messages: [] }), (e: ProviderError) => e.status === 529 && e.errorClass === 'server_error' && e.action.retry && e.body.error.message === 'Overloaded');
    } finally {
      await adapter.close();
      await up.close();
    }
  });
});

describe('anthropic: stream translation', () => {
  let up: Upstream;
  let adapter: ChatAdapter;
  before(async () => {
    up = await startUpstream(async (req, res) => {
      if (req.url === '/v1/models') return sendJson(res, 200, { data: [{ type: 'model', id: 'claude-sonnet-4-5', display_name: 'Claude', created_at: '2025-09-29T00:00:00Z' }], has_more: false });
      const mode = req.json?.messages?.[0]?.content?.[0]?.text;
      sseHead(res);
      if (mode === 'error') {
        res.write(STREAM[0]!);
        res.write(event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
        res.write(event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Hi' } }));
        await tick(2);
        res.end(event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
        return;
      }
      if (mode === 'cut') {
        res.end(STREAM.slice(0, 8).join(''));
        return;
      }
      for (const e of STREAM) {
        // split events across writes to exercise the parser
        res.write(e.slice(0, 10));
        res.write(e.slice(10));
      }
      res.end();
    });
    adapter = createProviderAdapter({ name: 'claude', type: 'anthropic', baseUrl: `${up.url}/v1`, apiKey: KEY }, 'claude-sonnet-4-5');
  });
  after(async () => {
    await adapter.close();
    await up.close();
  });

  it('events become OpenAI chunks: role, reasoning, content, tool call start + argument pieces, finish, usage', async () => {
    const stream = await adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'go' }], stream_options: { include_usage: true } });
    const chunks: ChatCompletionChunk[] = await collect(stream);
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === 'msg_1' && c.model === 'claude-sonnet-4-5'));
    const deltas = chunks.map((c) => ({ delta: c.choices[0]?.delta, finish: c.choices[0]?.finish_reason, usage: c.usage }));
    assert.deepEqual(deltas, [
      { delta: { role: 'assistant', content: '' }, finish: null, usage: undefined },
      { delta: { reasoning_content: 'Let me think.' }, finish: null, usage: undefined },
      { delta: { content: 'Checking ' }, finish: null, usage: undefined },
      { delta: { content: 'weather.' }, finish: null, usage: undefined },
      { delta: { tool_calls: [{ index: 0, id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }, finish: null, usage: undefined },
      { delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }, finish: null, usage: undefined },
      { delta: { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }, finish: null, usage: undefined },
      { delta: {}, finish: 'tool_calls', usage: undefined },
      {
        delta: undefined,
        finish: undefined,
        usage: { prompt_tokens: 17, completion_tokens: 30, total_tokens: 47, prompt_tokens_details: { cached_tokens: 5 }, cache_creation_input_tokens: 2, cache_read_input_tokens: 5 },
      },
    ]);
    assert.equal(stream.usage?.completion_tokens, 30);
    assert.equal(adapter.counters().successes, 1);
  });

  it('sse() serializes the chunks and ends with [DONE]', async () => {
    const stream = await adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'go' }] });
    const text = (await collect(stream.sse())).join('');
    const frames = text.split('\n\n').filter(Boolean);
    assert.equal(frames.at(-1), 'data: [DONE]');
    const parsed = frames.slice(0, -1).map((f) => JSON.parse(f.replace(/^data: /, '')));
    assert.equal(parsed.length, 8, 'no usage chunk unless asked');
    assert.equal(parsed.map((c) => c.choices[0].delta.content ?? '').join(''), 'Checking weather.');
    assert.equal(stream.usage?.total_tokens, 47, 'usage is tracked even when not sent');
  });

  it('an error event inside the 200 stream throws stream_error', async () => {
    const stream = await adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'error' }] });
    const got: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const f of stream.sse()) got.push(String(f));
      })(),
      (e: ProviderError) => e.errorClass === 'stream_error' && e.status === 529 && e.body.error.type === 'overloaded_error',
    );
    assert.ok(got.join('').includes('"Hi"'));
    assert.ok(!got.join('').includes('[DONE]'));
  });

  it('a stream that ends before message_stop is an error', async () => {
    await assert.rejects(collect(await adapter.chatCompletionStream({ model: 'x', messages: [{ role: 'user', content: 'cut' }] })), (e: ProviderError) => e.errorClass === 'stream_error');
  });

  it('lists models through GET /v1/models', async () => {
    assert.deepEqual(await adapter.listModels(), [{ id: 'claude-sonnet-4-5', object: 'model', created: 1759104000, owned_by: 'anthropic' }]);
    assert.equal(await adapter.healthCheck(), true);
    assert.equal(up.requests.at(-1)!.headers['x-api-key'], KEY);
  });
});
