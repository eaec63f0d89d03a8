import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { call, startGateway, Upstream, type RunningGateway, type UpstreamRequest } from './helpers.js';

/** What the loopback OpenAI upstream answers: text and/or tool calls, finish reason, usage. */
interface Answer {
  text?: string;
  tools?: Array<{ id: string; name: string; arguments: string }>;
  /** null: the upstream gives no finish reason. */
  finish: string | null;
  /** Absent: the upstream reports no usage (an OpenAI-compatible server not asked for it). */
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  extra?: Record<string, unknown>;
}

function openAICompletion(res: http.ServerResponse, a: Answer): void {
  const message: Record<string, unknown> = { role: 'assistant', content: a.text ?? null };
  if (a.tools) message.tool_calls = a.tools.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } }));
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ id: 'chatcmpl-42', object: 'chat.completion', created: 1, model: 'up-model', choices: [{ index: 0, message, finish_reason: a.finish, ...a.extra }], usage: a.usage }));
}

/** The same answer as OpenAI chunks: text in pieces, each tool call's arguments in two pieces, then usage. */
function openAIStream(res: http.ServerResponse, a: Answer): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const frame = (choices: unknown[], usage?: unknown) =>
    res.write(`data: ${JSON.stringify({ id: 'chatcmpl-42', object: 'chat.completion.chunk', created: 1, model: 'up-model', choices, ...(usage ? { usage } : {}) })}\n\n`);
  frame([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
  const text = a.text ?? '';
  for (let i = 0; i < text.length; i += 3) frame([{ index: 0, delta: { content: text.slice(i, i + 3) }, finish_reason: null }]);
  a.tools?.forEach((t, index) => {
    const half = Math.floor(t.arguments.length / 2);
    frame([{ index: 0, delta: { tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments.slice(0, half) } }] }, finish_reason: null }]);
    frame([{ index: 0, delta: { tool_calls: [{ index, function: { arguments: t.arguments.slice(half) } }] }, finish_reason: null }]);
  });
  frame([{ index: 0, delta: {}, finish_reason: a.finish, ...a.extra }]);
  if (a.usage) frame([], a.usage);
  res.end('data: [DONE]\n\n');
}

function answerWith(up: Upstream, a: Answer): void {
  up.onChat = (r: UpstreamRequest) => (r.body.stream ? openAIStream(r.res, a) : openAICompletion(r.res, a));
}

const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Current weather of a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
};

/** A stream's final message without the SDK's own additions (`parsed_output`), as plain JSON. */
function plain(m: unknown): unknown {
  const { parsed_output: _p, ...rest } = JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
  return rest;
}

describe('Anthropic SDK -> /v1/messages -> an OpenAI-compatible upstream', () => {
  let up: Upstream;
  let g: RunningGateway;
  let client: Anthropic;
  before(async () => {
    up = await Upstream.start();
    g = await startGateway(`auth: { apiKeys: [gw-key-1] }
routing: { maxAttempts: 1 }
providers:
  loop: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "provider-secret-key-123" }
  loop-usage: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "provider-secret-key-123", streamUsage: true }
models:
  claude-via-openai: { providers: [{ provider: loop, model: up-model }] }
  claude-usage: { providers: [{ provider: loop-usage, model: up-model }] }
  emb-only: { endpoints: [embeddings], providers: [{ provider: loop, model: up-embed }] }
`);
    client = new Anthropic({ baseURL: g.url, apiKey: 'gw-key-1', maxRetries: 0 });
  });
  after(async () => {
    await g.close();
    await up.close();
  });
  beforeEach(() => {
    up.requests.length = 0;
  });

  test('messages.create: text; the upstream gets an OpenAI chat request with our model id, and never the client key', async () => {
    answerWith(up, { text: 'Bonjour!', finish: 'stop', usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 } });
    const msg = await client.messages.create({
      model: 'claude-via-openai',
      max_tokens: 64,
      system: 'Answer in French.',
      stop_sequences: ['###'],
      messages: [{ role: 'user', content: 'Hello' }],
    });
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.deepEqual(msg.content, [{ type: 'text', text: 'Bonjour!' }]);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.usage.input_tokens, 12);
    assert.equal(msg.usage.output_tokens, 3);
    const sent = up.requests[0]!;
    assert.equal(sent.url, '/v1/chat/completions');
    assert.equal(sent.headers.authorization, 'Bearer provider-secret-key-123');
    assert.equal(sent.headers['x-api-key'], undefined);
    assert.deepEqual(sent.body, {
      model: 'up-model',
      messages: [{ role: 'system', content: 'Answer in French.' }, { role: 'user', content: 'Hello' }],
      max_tokens: 64,
      stop: ['###'],
    });
  });

  test('temperature and top_p (older clients send them) go out as they are', async () => {
    answerWith(up, { text: 'ok', finish: 'stop', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    const r = await call(g.url, 'POST', '/v1/messages', {
      headers: { 'x-api-key': 'gw-key-1', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'tools-2024-04-04' },
      body: { model: 'claude-via-openai', max_tokens: 8, temperature: 0.3, top_p: 0.8, top_k: 40, messages: [{ role: 'user', content: 'x' }] },
    });
    assert.equal(r.status, 200);
    assert.equal(r.json.type, 'message');
    assert.equal(up.requests[0]!.body.temperature, 0.3);
    assert.equal(up.requests[0]!.body.top_p, 0.8);
    assert.equal(up.requests[0]!.body.top_k, undefined);
    assert.equal(up.requests[0]!.headers['anthropic-beta'], undefined);
  });

  test('messages.stream: the full event sequence, and finalMessage() equals messages.create for the same upstream answer', async () => {
    const answer: Answer = { text: 'The quick brown fox.', finish: 'stop', usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 } };
    answerWith(up, answer);
    const params = { model: 'claude-via-openai', max_tokens: 64, messages: [{ role: 'user' as const, content: 'Say something' }] };
    const created = await client.messages.create(params);
    const stream = client.messages.stream(params);
    const types: string[] = [];
    let text = '';
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    }
    const final = await stream.finalMessage();
    assert.equal(text, 'The quick brown fox.');
    assert.deepEqual([...new Set(types)], ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    assert.deepEqual(plain(final), plain(created));
    assert.equal(up.requests[1]!.body.stream, true);

    // The same for an answer with text and two tool calls, and for max_tokens and stop_sequence endings.
    const answers: Answer[] = [
      {
        text: 'Checking both.',
        tools: [
          { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { id: 'call_b', name: 'get_weather', arguments: '{"city":"Oslo","units":{"t":"C"}}' },
        ],
        finish: 'tool_calls',
        usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42, prompt_tokens_details: { cached_tokens: 10 } } as Answer['usage'],
      },
      { text: 'cut sho', finish: 'length', usage: { prompt_tokens: 3, completion_tokens: 8, total_tokens: 11 } },
      { text: 'until', finish: 'stop', extra: { stop_reason: '###' }, usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } },
    ];
    for (const a of answers) {
      answerWith(up, a);
      const p = { ...params, tools: [WEATHER_TOOL], stop_sequences: ['###'] };
      assert.deepEqual(plain(await client.messages.stream(p).finalMessage()), plain(await client.messages.create(p)), String(a.finish));
    }
  });

  test('regression: /v1/messages streams sent stream_options to every provider, and a streamUsage:false upstream (Mistral, Groq) refuses the field', async () => {
    const answer: Answer = { text: 'no options', finish: 'stop', usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } };
    // Plays Mistral: 400 "Extra inputs are not permitted" for stream_options; reports usage unasked.
    up.onChat = (r: UpstreamRequest) => {
      if (r.body.stream_options !== undefined) {
        r.res.writeHead(400, { 'content-type': 'application/json' });
        r.res.end(JSON.stringify({ object: 'error', message: 'Extra inputs are not permitted', type: 'invalid_request_error', param: 'stream_options', code: null }));
        return;
      }
      openAIStream(r.res, answer);
    };
    const params = { model: 'claude-via-openai', max_tokens: 16, messages: [{ role: 'user' as const, content: 'x' }] };
    const final = await client.messages.stream(params).finalMessage();
    assert.deepEqual(final.content, [{ type: 'text', text: 'no options' }]);
    assert.equal(final.usage.input_tokens, 4);
    assert.equal(final.usage.output_tokens, 2);
    assert.equal(up.requests[0]!.body.stream_options, undefined);

    // A provider configured with streamUsage: true is asked for usage, and the message_delta carries it.
    answerWith(up, answer);
    const asked = await client.messages.stream({ ...params, model: 'claude-usage' }).finalMessage();
    assert.deepEqual(up.requests[1]!.body.stream_options, { include_usage: true });
    assert.equal(asked.usage.input_tokens, 4);
    assert.equal(asked.usage.output_tokens, 2);
  });

  test('regression: an upstream that reports no usage gave the stream\'s finalMessage() 0 input and 0 output tokens (message_delta overwrote the estimate); create() and the stream agree on estimates', async () => {
    // `loop` is openai-compatible with streamUsage at its default (not asked): this upstream reports none.
    answerWith(up, { text: 'x'.repeat(40), tools: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }], finish: 'tool_calls' });
    const params = { model: 'claude-via-openai', max_tokens: 64, tools: [WEATHER_TOOL], messages: [{ role: 'user' as const, content: 'What is the weather in Paris? '.repeat(8) }] };
    const { input_tokens: estimate } = await client.messages.countTokens({ model: params.model, tools: params.tools, messages: params.messages });
    const created = await client.messages.create(params);
    const streamed = await client.messages.stream(params).finalMessage();
    // 40 characters of text, 11 of tool name and 16 of arguments, at 4 characters a token.
    const outputEstimate = Math.ceil((40 + 11 + 16) / 4);
    for (const m of [created, streamed]) {
      assert.equal(m.usage.input_tokens, estimate);
      assert.equal(m.usage.output_tokens, outputEstimate);
    }
    assert.deepEqual(plain(streamed), plain(created));
  });

  test('regression: an upstream answer without a finish_reason gave stop_reason null, which Anthropic never sends (agents switch on it)', async () => {
    const params = { model: 'claude-via-openai', max_tokens: 16, messages: [{ role: 'user' as const, content: 'x' }] };
    const usage = { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 };
    answerWith(up, { text: 'done', finish: null, usage });
    const created = await client.messages.create(params);
    const streamed = await client.messages.stream(params).finalMessage();
    assert.equal(created.stop_reason, 'end_turn');
    assert.equal(streamed.stop_reason, 'end_turn');
    // With a tool call and no reason, the turn is a tool_use one: the agent's loop runs the tool.
    answerWith(up, { tools: [{ id: 'call_9', name: 'get_weather', arguments: '{"city":"Oslo"}' }], finish: null, usage });
    assert.equal((await client.messages.create(params)).stop_reason, 'tool_use');
    assert.equal((await client.messages.stream(params).finalMessage()).stop_reason, 'tool_use');
  });

  test('the raw stream carries a ping after message_start, each event named as its type', async () => {
    answerWith(up, { text: 'hi', finish: 'stop', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    const res = await fetch(`${g.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'gw-key-1', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-via-openai', max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const frames = (await res.text()).split('\n\n').filter(Boolean);
    const names = frames.map((f) => /^event: (\w+)/.exec(f)![1]);
    assert.deepEqual(names, ['message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    for (const f of frames) assert.equal(JSON.parse(f.split('\ndata: ')[1]!).type, /^event: (\w+)/.exec(f)![1]);
  });

  for (const mode of ['create', 'stream'] as const) {
    test(`tool call round trip (${mode}): tool_use out, tool_result back in, as OpenAI tool_calls and a tool message`, async () => {
      answerWith(up, { text: 'Let me look.', tools: [{ id: 'call_w1', name: 'get_weather', arguments: '{"city":"Paris"}' }], finish: 'tool_calls', usage: { prompt_tokens: 20, completion_tokens: 8, total_tokens: 28 } });
      const first = { model: 'claude-via-openai', max_tokens: 64, tools: [WEATHER_TOOL], tool_choice: { type: 'auto' as const }, messages: [{ role: 'user' as const, content: 'Weather in Paris?' }] };
      const msg = mode === 'create' ? await client.messages.create(first) : await client.messages.stream(first).finalMessage();
      assert.equal(msg.stop_reason, 'tool_use');
      assert.equal(msg.content.length, 2);
      assert.deepEqual(msg.content[0], { type: 'text', text: 'Let me look.' });
      const use = msg.content[1]!;
      assert.equal(use.type, 'tool_use');
      assert.ok(use.type === 'tool_use');
      assert.equal(use.id, 'call_w1');
      assert.equal(use.name, 'get_weather');
      assert.deepEqual(use.input, { city: 'Paris' });
      const sentTools = up.requests[0]!.body;
      assert.deepEqual(sentTools.tools, [{ type: 'function', function: { name: 'get_weather', description: 'Current weather of a city', parameters: WEATHER_TOOL.input_schema } }]);
      assert.equal(sentTools.tool_choice, 'auto');

      answerWith(up, { text: 'It is sunny in Paris.', finish: 'stop', usage: { prompt_tokens: 40, completion_tokens: 7, total_tokens: 47 } });
      const second = {
        ...first,
        messages: [
          ...first.messages,
          { role: 'assistant' as const, content: msg.content },
          { role: 'user' as const, content: [{ type: 'tool_result' as const, tool_use_id: use.id, content: '22°C, sunny' }] },
        ],
      };
      const reply = mode === 'create' ? await client.messages.create(second) : await client.messages.stream(second).finalMessage();
      assert.deepEqual(reply.content, [{ type: 'text', text: 'It is sunny in Paris.' }]);
      assert.equal(reply.stop_reason, 'end_turn');
      assert.deepEqual(up.requests[1]!.body.messages, [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: 'Let me look.', tool_calls: [{ id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_w1', content: '22°C, sunny' },
      ]);
    });
  }

  test('regression: parallel tool calls whose argument pieces interleave ended the stream with an error event, and finalMessage() threw; now the same message as messages.create', async () => {
    const calls = [
      { id: 'call_p', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { id: 'call_r', name: 'get_weather', arguments: '{"city":"Rome"}' },
    ];
    up.onChat = (r: UpstreamRequest) => {
      if (!r.body.stream) {
        openAICompletion(r.res, { tools: calls, finish: 'tool_calls', usage: { prompt_tokens: 9, completion_tokens: 6, total_tokens: 15 } });
        return;
      }
      r.res.writeHead(200, { 'content-type': 'text/event-stream' });
      const frame = (delta: unknown, finish: string | null = null, usage?: unknown) =>
        r.res.write(`data: ${JSON.stringify({ id: 'chatcmpl-42', object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`);
      // One chunk starts both calls, then their argument pieces alternate.
      frame({ role: 'assistant', tool_calls: calls.map((c, index) => ({ index, id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments.slice(0, 5) } })) });
      for (let at = 5; at < 16; at += 5) for (const [index, c] of calls.entries()) frame({ tool_calls: [{ index, function: { arguments: c.arguments.slice(at, at + 5) } }] });
      frame({}, 'tool_calls');
      frame(undefined, null, { prompt_tokens: 9, completion_tokens: 6, total_tokens: 15 });
      r.res.end('data: [DONE]\n\n');
    };
    const params = { model: 'claude-via-openai', max_tokens: 64, tools: [WEATHER_TOOL], messages: [{ role: 'user' as const, content: 'Weather in Paris and Rome?' }] };
    const streamed = await client.messages.stream(params).finalMessage();
    const created = await client.messages.create(params);
    assert.deepEqual(
      streamed.content.map((b) => (b.type === 'tool_use' ? [b.id, b.input] : b.type)),
      [
        ['call_p', { city: 'Paris' }],
        ['call_r', { city: 'Rome' }],
      ],
    );
    assert.equal(streamed.stop_reason, 'tool_use');
    assert.deepEqual(streamed.content, created.content);
  });

  test('stop_sequence and max_tokens stop reasons; images go out as image_url parts', async () => {
    answerWith(up, { text: 'abc', finish: 'stop', extra: { stop_reason: '###' }, usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    const params = {
      model: 'claude-via-openai',
      max_tokens: 8,
      stop_sequences: ['###'],
      messages: [
        {
          role: 'user' as const,
          content: [
            { type: 'image' as const, source: { type: 'base64' as const, media_type: 'image/png' as const, data: 'iVBORw0KGgo=' } },
            { type: 'image' as const, source: { type: 'url' as const, url: 'https://example.com/a.png' } },
            { type: 'text' as const, text: 'what is this?' },
          ],
        },
      ],
    };
    const m = await client.messages.create(params);
    assert.equal(m.stop_reason, 'stop_sequence');
    assert.equal(m.stop_sequence, '###');
    assert.equal((await client.messages.stream(params).finalMessage()).stop_sequence, '###');
    assert.deepEqual(up.requests[0]!.body.messages[0].content, [
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
      { type: 'text', text: 'what is this?' },
    ]);
    answerWith(up, { text: 'cut', finish: 'length', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    assert.equal((await client.messages.create(params)).stop_reason, 'max_tokens');
  });

  test('count_tokens answers an estimate', async () => {
    const r = await client.messages.countTokens({ model: 'claude-via-openai', system: 'x'.repeat(40), messages: [{ role: 'user', content: 'y'.repeat(400) }] });
    assert.equal(r.input_tokens, 10 + 100 + 4);
    await assert.rejects(client.messages.countTokens({ model: 'nope', messages: [{ role: 'user', content: 'y' }] }), Anthropic.NotFoundError);
  });

  test('401 in Anthropic shape: a wrong key, no key; a bearer key works as well as x-api-key', async () => {
    const wrong = new Anthropic({ baseURL: g.url, apiKey: 'not-a-key', maxRetries: 0 });
    await assert.rejects(wrong.messages.create({ model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.AuthenticationError);
      assert.equal(err.status, 401);
      assert.deepEqual(Object.keys(err.error as object), ['type', 'error']);
      assert.equal((err.error as { error: { type: string } }).error.type, 'authentication_error');
      return true;
    });
    const none = await call(g.url, 'POST', '/v1/messages', { body: { model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(none.status, 401);
    assert.equal(none.json.type, 'error');
    assert.equal(none.json.error.type, 'authentication_error');
    answerWith(up, { text: 'ok', finish: 'stop', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    const bearer = new Anthropic({ baseURL: g.url, authToken: 'gw-key-1', apiKey: null, maxRetries: 0 });
    assert.equal((await bearer.messages.create({ model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] })).content.length, 1);
  });

  test('404 for an unknown model; 400 naming /v1/embeddings for an embeddings-only model; 400 for a bad body', async () => {
    await assert.rejects(client.messages.create({ model: 'no-such-model', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.NotFoundError);
      assert.equal((err.error as { error: { type: string } }).error.type, 'not_found_error');
      return true;
    });
    await assert.rejects(client.messages.create({ model: 'emb-only', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.BadRequestError);
      const e = (err.error as { error: { type: string; message: string } }).error;
      assert.equal(e.type, 'invalid_request_error');
      assert.match(e.message, /POST \/v1\/embeddings/);
      return true;
    });
    const bad = await call(g.url, 'POST', '/v1/messages', { key: 'gw-key-1', body: { model: 'claude-via-openai', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json, { type: 'error', error: { type: 'invalid_request_error', message: "Missing required parameter: 'max_tokens'." } });
    const json = await call(g.url, 'POST', '/v1/messages', { key: 'gw-key-1', rawBody: '{"model":' });
    assert.equal(json.status, 400);
    assert.equal(json.json.error.type, 'invalid_request_error');
  });

  test('regression: a Messages API path the gateway does not serve (batches) answered 404 in OpenAI\'s shape', async () => {
    await assert.rejects(client.messages.batches.create({ requests: [{ custom_id: 'a', params: { model: 'claude-via-openai', max_tokens: 4, messages: [{ role: 'user', content: 'x' }] } }] }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.NotFoundError);
      assert.deepEqual(err.error, { type: 'error', error: { type: 'not_found_error', message: 'Unknown request URL: POST /v1/messages/batches.' } });
      return true;
    });
    const other = await call(g.url, 'GET', '/v1/nothing-here', { key: 'gw-key-1' });
    assert.equal(other.status, 404);
    assert.equal(other.json.error.code, 'unknown_url');
  });

  test('regression: GET and POST /v1/messages/batches answered 404 without request-id, so the Anthropic SDK\'s error.requestID was undefined', async () => {
    const batch = { requests: [{ custom_id: 'a', params: { model: 'claude-via-openai', max_tokens: 4, messages: [{ role: 'user' as const, content: 'x' }] } }] };
    for (const [what, attempt] of [
      ['GET', () => client.messages.batches.list()],
      ['POST', () => client.messages.batches.create(batch)],
    ] as const) {
      await assert.rejects(attempt(), (err: unknown) => {
        assert.ok(err instanceof Anthropic.NotFoundError, `${what}: ${String(err)}`);
        assert.equal(typeof err.requestID, 'string', what);
        assert.ok(err.requestID!.length > 0, what);
        assert.equal(err.requestID, err.headers?.get('x-request-id'), what);
        assert.equal((err.error as { error: { type: string } }).error.type, 'not_found_error');
        return true;
      });
    }
    // Raw, with and without a key, a GET of /v1/messages itself, and a body that fails before the 404: Anthropic's shape, request-id = x-request-id.
    for (const [method, path, options] of [
      ['GET', '/v1/messages/batches', {}],
      ['POST', '/v1/messages/batches', { key: 'gw-key-1', body: batch }],
      ['GET', '/v1/messages/batches/msgbatch_01?limit=1', { key: 'gw-key-1' }],
      ['GET', '/v1/messages', { headers: { 'x-api-key': 'gw-key-1' } }],
    ] as const) {
      const r = await call(g.url, method, path, options);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.equal(r.json.type, 'error');
      assert.equal(r.json.error.type, 'not_found_error');
      assert.ok(r.headers.get('request-id'), `${method} ${path}`);
      assert.equal(r.headers.get('request-id'), r.headers.get('x-request-id'));
    }
    const badBody = await call(g.url, 'POST', '/v1/messages/batches', { key: 'gw-key-1', rawBody: '{"requests":' });
    assert.equal(badBody.status, 400);
    assert.equal(badBody.json.type, 'error');
    assert.equal(badBody.json.error.type, 'invalid_request_error');
    assert.equal(badBody.headers.get('request-id'), badBody.headers.get('x-request-id'));
    // Every other unknown URL keeps OpenAI's shape and only x-request-id.
    for (const path of ['/v1/nothing-here', '/v1/messagesx', '/v1/chat/completions/x']) {
      const other = await call(g.url, 'GET', path, { key: 'gw-key-1' });
      assert.equal(other.status, 404, path);
      assert.equal(other.json.error.code, 'unknown_url');
      assert.equal(other.headers.get('request-id'), null);
      assert.ok(other.headers.get('x-request-id'));
    }
    const otherBadBody = await call(g.url, 'POST', '/v1/nothing-here', { key: 'gw-key-1', rawBody: '{"a":' });
    assert.equal(otherBadBody.status, 400);
    assert.equal(otherBadBody.json.error.code, 'invalid_json');
    assert.equal(otherBadBody.headers.get('request-id'), null);
  });

  test('regression: a request with no key on /v1/messages was told to send "Authorization: Bearer <key>"; Anthropic clients send x-api-key', async () => {
    const body = { model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] };
    for (const path of ['/v1/messages', '/v1/messages/count_tokens']) {
      const none = await call(g.url, 'POST', path, { body });
      assert.equal(none.status, 401, path);
      assert.deepEqual(none.json, {
        type: 'error',
        error: { type: 'authentication_error', message: 'You didn\'t provide an API key. Send it as "x-api-key: <key>" (or "Authorization: Bearer <key>").' },
      });
    }
    // The OpenAI routes keep theirs.
    const chat = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'claude-via-openai', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(chat.status, 401);
    assert.equal(chat.json.error.code, 'missing_api_key');
    assert.equal(chat.json.error.message, 'You didn\'t provide an API key. Send it as "Authorization: Bearer <key>".');
    // A wrong key is still just wrong, on both.
    const wrong = await call(g.url, 'POST', '/v1/messages', { headers: { 'x-api-key': 'not-a-key' }, body });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error.message, 'Incorrect API key provided.');
  });

  test('regression: tool_choice {type:"tool"} without a name went upstream as a call to a function named ""', async () => {
    const r = await call(g.url, 'POST', '/v1/messages', {
      headers: { 'x-api-key': 'gw-key-1' },
      body: { model: 'claude-via-openai', max_tokens: 8, tools: [WEATHER_TOOL], tool_choice: { type: 'tool' }, messages: [{ role: 'user', content: 'x' }] },
    });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, { type: 'error', error: { type: 'invalid_request_error', message: "Missing required parameter: 'tool_choice.name'." } });
    assert.equal(up.requests.length, 0);
  });

  test('regression: content blocks missing their own fields ({type:"text",text:5}, a tool_use without input) passed validation: 400 naming the field', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [[{ type: 'text', text: 5 }], /messages\[0\]\.content\[0\]\.text/],
      [[{ type: 'text' }], /messages\[0\]\.content\[0\]\.text/],
      [[{ type: 'image' }], /messages\[0\]\.content\[0\]\.source/],
      [[{ type: 'tool_result', content: 'ok' }], /messages\[0\]\.content\[0\]\.tool_use_id/],
    ];
    // An image's source must carry what its type needs: it went upstream as `data:undefined;base64,undefined`.
    const imageCases: Array<[unknown, RegExp]> = [
      [[{ type: 'image', source: { type: 'base64', media_type: 'image/png' } }], /messages\[0\]\.content\[0\]\.source\.data/],
      [[{ type: 'image', source: { type: 'base64', data: 'iVBORw0KGgo=' } }], /messages\[0\]\.content\[0\]\.source\.media_type/],
      [[{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 7 } }], /messages\[0\]\.content\[0\]\.source\.data/],
      [[{ type: 'image', source: { type: 'url' } }], /messages\[0\]\.content\[0\]\.source\.url/],
      [[{ type: 'image', source: { url: 'https://example.com/a.png' } }], /messages\[0\]\.content\[0\]\.source\.type/],
    ];
    cases.push(...imageCases);
    for (const [content, param] of cases) {
      const r = await call(g.url, 'POST', '/v1/messages', {
        headers: { 'x-api-key': 'gw-key-1' },
        body: { model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user', content }] },
      });
      assert.equal(r.status, 400, JSON.stringify(content));
      assert.equal(r.json.type, 'error');
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.match(r.json.error.message, param, r.json.error.message);
    }
    assert.equal(up.requests.length, 0, 'none of them went upstream');
    const toolUse = await call(g.url, 'POST', '/v1/messages', {
      headers: { 'x-api-key': 'gw-key-1' },
      body: {
        model: 'claude-via-openai',
        max_tokens: 8,
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'tu_1', name: 'get_weather' }] },
        ],
      },
    });
    assert.equal(toolUse.status, 400);
    assert.match(toolUse.json.error.message, /messages\[1\]\.content\[0\]\.input/);
    assert.equal(up.requests.length, 0);
  });

  test('429 and 503 from the upstream: rate_limit_error, overloaded_error (529) with Retry-After', async () => {
    up.onChat = (r) => {
      r.res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3' });
      r.res.end(JSON.stringify({ error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }));
    };
    await assert.rejects(client.messages.create({ model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.RateLimitError);
      assert.equal((err.error as { error: { type: string } }).error.type, 'rate_limit_error');
      assert.equal(err.headers?.get('retry-after'), '3');
      return true;
    });
    up.onChat = (r) => {
      r.res.writeHead(503, { 'content-type': 'application/json' });
      r.res.end(JSON.stringify({ error: { message: 'overloaded', type: 'server_error', code: null } }));
    };
    await assert.rejects(client.messages.create({ model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.OverloadedError, String(err));
      assert.equal(err.status, 529);
      assert.equal((err.error as { error: { type: string } }).error.type, 'overloaded_error');
      assert.ok(err.headers?.get('retry-after'));
      return true;
    });
  });

  test('an upstream failure after the first byte is an Anthropic error event; the SDK throws it', async () => {
    up.onChat = (r) => {
      r.res.writeHead(200, { 'content-type': 'text/event-stream' });
      r.res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: [{ index: 0, delta: { content: 'partial' }, finish_reason: null }] })}\n\n`);
      r.res.end(`data: ${JSON.stringify({ error: { message: 'upstream exploded', type: 'server_error', code: 'boom' } })}\n\n`);
    };
    const res = await fetch(`${g.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'gw-key-1' },
      body: JSON.stringify({ model: 'claude-via-openai', max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'x' }] }),
    });
    const text = await res.text();
    const last = text.split('\n\n').filter(Boolean).at(-1)!;
    assert.match(last, /^event: error\n/);
    const body = JSON.parse(last.split('\ndata: ')[1]!);
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'api_error');
    assert.ok(!text.includes('message_stop'));
    const stream = client.messages.stream({ model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] });
    await assert.rejects(stream.finalMessage(), (err: unknown) => err instanceof Anthropic.APIError);
  });

  test('regression: the Anthropic SDK\'s _request_id and error.requestID were undefined (it reads request-id, not x-request-id)', async () => {
    answerWith(up, { text: 'ok', finish: 'stop', usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    const params = { model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user' as const, content: 'x' }] };
    const { response, request_id } = await client.messages.create(params).withResponse();
    assert.ok(request_id);
    assert.equal(request_id, response.headers.get('x-request-id'));
    assert.ok((await client.messages.create(params))._request_id);
    const stream = client.messages.stream(params);
    await stream.finalMessage();
    assert.ok(stream.request_id);
    const streamLine = g.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'messages').at(-1);
    assert.equal(stream.request_id, streamLine.reqId);
    await assert.rejects(client.messages.create({ ...params, model: 'nope' }), (err: unknown) => err instanceof Anthropic.NotFoundError && typeof err.requestID === 'string' && err.requestID.length > 0);
    const anon = new Anthropic({ baseURL: g.url, apiKey: 'wrong-key', maxRetries: 0 });
    await assert.rejects(anon.messages.countTokens({ model: 'claude-via-openai', messages: params.messages }), (err: unknown) => err instanceof Anthropic.AuthenticationError && typeof err.requestID === 'string');
  });

  test('each request has one log line with model, deployment and status; no key in the logs', async () => {
    answerWith(up, { text: 'ok', finish: 'stop', usage: { prompt_tokens: 2, completion_tokens: 1, total_tokens: 3 } });
    await client.messages.create({ model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user', content: 'log me' }] });
    const line = g.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'messages').at(-1);
    assert.equal(line.model, 'claude-via-openai');
    assert.equal(line.deployment, 'up-model:loop');
    assert.equal(line.status, 200);
    assert.deepEqual(line.tokens, { prompt: 2, completion: 1, total: 3 });
    assert.equal(line.prompt, undefined);
    const all = g.logs.join('');
    assert.ok(!all.includes('gw-key-1') && !all.includes('provider-secret-key-123'));
  });
});
