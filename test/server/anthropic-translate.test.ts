import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  FINISH_REASON_TO_STOP_REASON,
  imageBlockFromUrl,
  imageUrlFromSource,
  STOP_REASON_TO_FINISH_REASON,
  toFinishReason,
  toStopReason,
} from '../../src/providers/anthropic/mapping.js';
import { toAnthropicRequest } from '../../src/providers/anthropic/translate.js';
import type { ChatCompletion, ChatCompletionChunk } from '../../src/providers/types.js';
import { GatewayHttpError } from '../../src/server/errors.js';
import { toAnthropicErrorReply } from '../../src/server/anthropic/errors.js';
import { toChatRequest } from '../../src/server/anthropic/request.js';
import { toMessagesResponse } from '../../src/server/anthropic/response.js';
import { MessagesStreamWriter } from '../../src/server/anthropic/stream.js';
import type { MessagesRequest } from '../../src/server/anthropic/types.js';
import { ProviderError } from '../../src/providers/errors.js';

const PNG = 'iVBORw0KGgo=';

describe('Anthropic <-> OpenAI: one set of mapping tables for both directions', () => {
  test('stop reasons survive the round trip end_turn, max_tokens, tool_use', () => {
    for (const stop of ['end_turn', 'max_tokens', 'tool_use']) assert.equal(toStopReason(toFinishReason(stop)), stop);
    for (const [finish, stop] of Object.entries(FINISH_REASON_TO_STOP_REASON)) {
      if (finish !== 'function_call') assert.equal(STOP_REASON_TO_FINISH_REASON[stop], finish);
    }
  });

  test('images: data URL <-> base64 source, web URL <-> url source', () => {
    for (const url of [`data:image/png;base64,${PNG}`, 'https://example.com/cat.png']) {
      const block = imageBlockFromUrl(url) as { type: 'image'; source: Parameters<typeof imageUrlFromSource>[0] };
      assert.equal(imageUrlFromSource(block.source), url);
    }
  });

  test('inbound then outbound translation gives back the Anthropic request (what both directions know)', () => {
    const req: MessagesRequest = {
      model: 'claude-x',
      max_tokens: 100,
      system: 'be brief',
      stop_sequences: ['END'],
      temperature: 0.5,
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }] },
        { role: 'assistant', content: [{ type: 'text', text: 'calling' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
      ],
      tools: [{ name: 'get_weather', description: 'weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'any' },
    };
    const back = toAnthropicRequest(toChatRequest(req, false), { model: 'claude-x' });
    assert.deepEqual(back, {
      model: 'claude-x',
      max_tokens: 100,
      system: 'be brief',
      temperature: 0.5,
      stop_sequences: ['END'],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } }] },
        { role: 'assistant', content: [{ type: 'text', text: 'calling' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] },
      ],
      tools: req.tools,
      tool_choice: { type: 'any' },
    });
  });
});

describe('Anthropic request -> OpenAI chat request', () => {
  test('system blocks, string content, sampling, stop sequences, user id, streaming (stream_options left to the adapter)', () => {
    const out = toChatRequest(
      {
        model: 'm',
        max_tokens: 50,
        system: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two', cache_control: { type: 'ephemeral' } }],
        messages: [{ role: 'user', content: 'hi' }],
        temperature: 0.2,
        top_p: 0.9,
        top_k: 5,
        stop_sequences: ['x', 'y'],
        metadata: { user_id: 'u-7' },
        thinking: { type: 'enabled', budget_tokens: 1024 },
      },
      true,
    );
    assert.deepEqual(out, {
      model: 'm',
      messages: [{ role: 'system', content: 'one\ntwo' }, { role: 'user', content: 'hi' }],
      max_tokens: 50,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['x', 'y'],
      user: 'u-7',
      stream: true,
    });
  });

  test('text blocks of an assistant turn or a tool result were glued into one word at the seam ("…end of file" + "Note" -> "…end of fileNote"): joined with a newline, as system blocks are', () => {
    const out = toChatRequest(
      {
        model: 'm',
        max_tokens: 5,
        messages: [
          { role: 'user', content: 'read it' },
          { role: 'assistant', content: [{ type: 'text', text: 'Reading.' }, { type: 'tool_use', id: 't', name: 'read', input: {} }, { type: 'text', text: 'Done.' }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 'end of file' }, { type: 'text', text: 'Note: truncated' }] }] },
        ],
      },
      false,
    );
    assert.equal(out.messages[1]!.content, 'Reading.\nDone.');
    assert.equal(out.messages[2]!.content, 'end of file\nNote: truncated');
  });

  test('tool results go first as tool messages, the rest of the turn after them; url images; tool_choice tool and no parallel', () => {
    const out = toChatRequest(
      {
        model: 'm',
        max_tokens: 5,
        messages: [
          { role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'f', input: {} }, { type: 'tool_use', id: 'b', name: 'g', input: { n: 1 } }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'and also' },
              { type: 'tool_result', tool_use_id: 'a', content: [{ type: 'text', text: 'A1' }, { type: 'text', text: 'A2' }] },
              { type: 'tool_result', tool_use_id: 'b', content: [{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }], is_error: true },
            ],
          },
        ],
        tools: [{ name: 'f', input_schema: { type: 'object' } }, { type: 'custom', name: 'g' }],
        tool_choice: { type: 'tool', name: 'g', disable_parallel_tool_use: true },
      },
      false,
    );
    assert.deepEqual(out.messages, [
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } },
          { id: 'b', type: 'function', function: { name: 'g', arguments: '{"n":1}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'a', content: 'A1\nA2' },
      { role: 'tool', tool_call_id: 'b', content: '' },
      { role: 'user', content: [{ type: 'text', text: 'and also' }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
    ]);
    assert.deepEqual(out.tools, [
      { type: 'function', function: { name: 'f', parameters: { type: 'object' } } },
      { type: 'function', function: { name: 'g', parameters: { type: 'object', properties: {} } } },
    ]);
    assert.deepEqual(out.tool_choice, { type: 'function', function: { name: 'g' } });
    assert.equal(out.parallel_tool_calls, false);
  });

  test('regression: Claude Code\'s metadata.user_id (~150 characters) went upstream as user, over OpenAI\'s 64-character limit', () => {
    const id = `user_${'ab12'.repeat(16)}_account_${'0'.repeat(36)}_session_${'1'.repeat(36)}`;
    const at = (user_id: string) => toChatRequest({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }], metadata: { user_id } }, false).user;
    const long = at(id)!;
    assert.ok(long.length <= 64, long);
    assert.equal(at(id), long, 'the same id gives the same user');
    assert.notEqual(at(id + 'x'), long, 'another id gives another user');
    assert.ok(!long.includes('ab12'), 'no part of the id in clear');
    assert.equal(at('u-7'), 'u-7', 'short ids go as they are');
    assert.equal(at('x'.repeat(64)), 'x'.repeat(64));
  });

  test('regression: tool_choice went upstream without tools, which OpenAI refuses ("only allowed when tools are specified")', () => {
    for (const type of ['auto', 'any', 'none'] as const) {
      const out = toChatRequest({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }], tool_choice: { type, disable_parallel_tool_use: true } }, false);
      assert.equal(out.tool_choice, undefined, type);
      assert.equal(out.parallel_tool_calls, undefined, type);
      assert.equal(toChatRequest({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }], tools: [], tool_choice: { type } }, false).tool_choice, undefined, type);
    }
  });

  test('what cannot be translated is a 400 naming the field', () => {
    const refuse = (req: Partial<MessagesRequest>, param: string) =>
      assert.throws(
        () => toChatRequest({ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }], ...req }, false),
        (err: unknown) => err instanceof GatewayHttpError && err.status === 400 && err.param === param,
      );
    refuse({ messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', data: 'x' } }] }] }, 'messages[0].content[0].type');
    refuse({ tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, 'tools[0].type');
    // regression: an empty content list vanished in translation (two assistant turns in a row, or no user turn at all)
    refuse({ messages: [{ role: 'user', content: [] }] }, 'messages[0].content');
    refuse({ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: [] }, { role: 'user', content: 'b' }] }, 'messages[1].content');
    refuse({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }] }, 'messages[0].content[0].source');
  });
});

function completion(message: Record<string, unknown>, finish: string, extra: Record<string, unknown> = {}): ChatCompletion {
  return {
    id: 'chatcmpl-9',
    object: 'chat.completion',
    created: 1,
    model: 'up-model',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish, ...extra }],
    usage: { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 },
  } as ChatCompletion;
}

describe('OpenAI completion -> Anthropic message', () => {
  test('text, stop reasons, usage', () => {
    const m = toMessagesResponse(completion({ content: 'hello' }, 'stop'), 'gw', undefined);
    assert.deepEqual(m, {
      id: 'msg_chatcmpl-9',
      type: 'message',
      role: 'assistant',
      model: 'up-model',
      content: [{ type: 'text', text: 'hello' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      stop_details: null,
      usage: { input_tokens: 10, output_tokens: 4, cache_creation_input_tokens: null, cache_read_input_tokens: null },
    });
    assert.equal(toMessagesResponse(completion({ content: 'x' }, 'length'), 'gw', undefined).stop_reason, 'max_tokens');
  });

  test('tool calls become tool_use blocks after the text; stop_reason tool_use', () => {
    const m = toMessagesResponse(
      completion({ content: 'let me check', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, 'tool_calls'),
      'gw',
      undefined,
    );
    assert.deepEqual(m.content, [
      { type: 'text', text: 'let me check' },
      { type: 'tool_use', id: 'call_1', name: 'f', input: { a: 1 } },
    ]);
    assert.equal(m.stop_reason, 'tool_use');
  });

  test('stop_sequence when the upstream names the matched sequence (vLLM stop_reason), else end_turn', () => {
    const vllm = toMessagesResponse(completion({ content: 'a' }, 'stop', { stop_reason: 'END' }), 'gw', ['END']);
    assert.equal(vllm.stop_reason, 'stop_sequence');
    assert.equal(vllm.stop_sequence, 'END');
    assert.equal(toMessagesResponse(completion({ content: 'a' }, 'stop'), 'gw', ['END']).stop_reason, 'end_turn');
  });

  test('cached prompt tokens are reported apart, as Anthropic does', () => {
    const c = completion({ content: 'a' }, 'stop');
    c.usage = { prompt_tokens: 10, completion_tokens: 1, total_tokens: 11, prompt_tokens_details: { cached_tokens: 6 } };
    assert.deepEqual(toMessagesResponse(c, 'gw', undefined).usage, { input_tokens: 4, output_tokens: 1, cache_creation_input_tokens: null, cache_read_input_tokens: 6 });
  });
});

function chunk(delta: Record<string, unknown>, finish: string | null = null, usage?: Record<string, number>): ChatCompletionChunk {
  const c = { id: 'chatcmpl-9', object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }] } as ChatCompletionChunk;
  if (usage) c.usage = usage as ChatCompletionChunk['usage'];
  return c;
}

function events(sse: string): Array<{ event: string; data: any }> {
  return sse
    .split('\n\n')
    .filter(Boolean)
    .map((f) => {
      const [e, d] = f.split('\n');
      return { event: e!.slice('event: '.length), data: JSON.parse(d!.slice('data: '.length)) };
    });
}

describe('OpenAI chunks -> Anthropic stream events', () => {
  test('the full sequence: message_start, ping, a text block, a tool block with input_json_delta, message_delta, message_stop', () => {
    const w = new MessagesStreamWriter('gw', undefined);
    let out = '';
    out += w.push(chunk({ role: 'assistant', content: '' }));
    out += w.push(chunk({ content: 'Hel' }));
    out += w.push(chunk({ content: 'lo' }));
    out += w.push(chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }] }));
    out += w.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] }));
    out += w.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }));
    out += w.push(chunk({}, 'tool_calls'));
    out += w.push(chunk({}, null, { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 }));
    out += w.end();
    const ev = events(out);
    assert.deepEqual(
      ev.map((e) => e.event),
      ['message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'],
    );
    for (const e of ev) assert.equal(e.data.type, e.event);
    assert.equal(ev[0]!.data.message.id, 'msg_chatcmpl-9');
    assert.deepEqual(ev[2]!.data, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    assert.deepEqual(ev[3]!.data.delta, { type: 'text_delta', text: 'Hel' });
    assert.deepEqual(ev[6]!.data, { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'call_1', name: 'f', input: {} } });
    assert.deepEqual(ev[7]!.data.delta, { type: 'input_json_delta', partial_json: '{"a":' });
    assert.equal(ev[9]!.data.index, 1);
    assert.deepEqual(ev[10]!.data, {
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null, stop_details: null },
      usage: { input_tokens: 7, output_tokens: 3, cache_creation_input_tokens: null, cache_read_input_tokens: null },
    });
  });

  test('two tool calls in a row are two blocks, in order', () => {
    const w = new MessagesStreamWriter('gw', undefined);
    let out = w.push(chunk({ tool_calls: [{ index: 0, id: 'a', function: { name: 'f', arguments: '{}' } }] }));
    out += w.push(chunk({ tool_calls: [{ index: 1, id: 'b', function: { name: 'g', arguments: '{}' } }] }));
    out += w.push(chunk({}, 'tool_calls'));
    assert.deepEqual(
      events(out + w.end()).filter((e) => e.event === 'content_block_start').map((e) => [e.data.index, e.data.content_block.id]),
      [[0, 'a'], [1, 'b']],
    );
  });

  test('parallel tool calls whose argument pieces interleave (one chunk starts calls 0 and 1, then more of 0) ended the stream with an error: every delta lands inside its own block', () => {
    const w = new MessagesStreamWriter('gw', undefined);
    let out = w.push(chunk({ content: 'Checking both.' }));
    out += w.push(chunk({ tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"ci' } }, { index: 1, id: 'call_b', type: 'function', function: { name: 'time', arguments: '{"zo' } }] }));
    out += w.push(chunk({ tool_calls: [{ index: 0, function: { arguments: 'ty":"Paris"}' } }] }));
    out += w.push(chunk({ tool_calls: [{ index: 1, function: { arguments: 'ne":"CET"}' } }] }));
    out += w.push(chunk({ content: ' Done.' }));
    out += w.push(chunk({}, 'tool_calls'));
    const ev = events(out + w.end());
    // Each block: one start, its deltas, one stop, and nothing for it after the stop.
    const stopped = new Set<number>();
    const started: number[] = [];
    for (const e of ev) {
      if (e.event === 'content_block_start') {
        assert.equal(started.length, stopped.size, `block ${e.data.index} starts only after the one before it stopped`);
        started.push(e.data.index);
      }
      if (e.event === 'content_block_delta') assert.ok(!stopped.has(e.data.index) && started.at(-1) === e.data.index, `a delta for block ${e.data.index} inside that block`);
      if (e.event === 'content_block_stop') stopped.add(e.data.index);
    }
    assert.deepEqual(started, [0, 1, 2, 3]);
    assert.equal(stopped.size, 4);
    const blocks = ev.filter((e) => e.event === 'content_block_start').map((e) => e.data.content_block);
    assert.deepEqual(
      blocks.map((b) => [b.type, b.id ?? null, b.name ?? null]),
      [['text', null, null], ['tool_use', 'call_a', 'weather'], ['tool_use', 'call_b', 'time'], ['text', null, null]],
    );
    const deltas = (i: number) => ev.filter((e) => e.event === 'content_block_delta' && e.data.index === i).map((e) => e.data.delta.partial_json ?? e.data.delta.text).join('');
    assert.equal(deltas(0), 'Checking both.');
    assert.deepEqual(JSON.parse(deltas(1)), { city: 'Paris' });
    assert.deepEqual(JSON.parse(deltas(2)), { zone: 'CET' });
    assert.equal(deltas(3), ' Done.');
    assert.equal(ev.find((e) => e.event === 'message_delta')!.data.delta.stop_reason, 'tool_use');
  });

  test('tool calls streamed without an index are separate blocks, not one block of two JSON texts', () => {
    const w = new MessagesStreamWriter('gw', undefined);
    let out = w.push(chunk({ tool_calls: [{ id: 'call_p', type: 'function', function: { name: 'weather', arguments: '{"city":' } }] as never }));
    out += w.push(chunk({ tool_calls: [{ function: { arguments: '"Paris"}' } }] as never }));
    out += w.push(chunk({ tool_calls: [{ id: 'call_r', type: 'function', function: { name: 'weather', arguments: '{"city":"Rome"}' } }] as never }));
    out += w.push(chunk({}, 'tool_calls'));
    const ev = events(out + w.end());
    assert.deepEqual(
      ev.filter((e) => e.event === 'content_block_start').map((e) => [e.data.index, e.data.content_block.id]),
      [[0, 'call_p'], [1, 'call_r']],
    );
    const json = (i: number) => ev.filter((e) => e.event === 'content_block_delta' && e.data.index === i).map((e) => e.data.delta.partial_json).join('');
    assert.deepEqual([JSON.parse(json(0)), JSON.parse(json(1))], [{ city: 'Paris' }, { city: 'Rome' }]);
  });

  test('a stream that called tools but finished with "stop" ends with stop_reason tool_use, not end_turn', () => {
    const w = new MessagesStreamWriter('gw', undefined);
    const out = w.push(chunk({ tool_calls: [{ index: 0, id: 'c', function: { name: 'f', arguments: '{}' } }] })) + w.push(chunk({}, 'stop'));
    assert.equal(events(out + w.end()).find((e) => e.event === 'message_delta')!.data.delta.stop_reason, 'tool_use');
  });

  test('a completion that called tools but finished with "stop" has stop_reason tool_use', () => {
    const m = toMessagesResponse(
      { id: 'x', object: 'chat.completion', created: 0, model: 'up', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] } }] } as never,
      'gw',
      undefined,
    );
    assert.equal(m.stop_reason, 'tool_use');
  });

  test('message_start carries the input estimate instead of 0 (older SDKs read input_tokens only there)', () => {
    const w = new MessagesStreamWriter('gw', undefined, { inputTokens: 42 });
    const ev = events(w.push(chunk({ content: 'hi' })) + w.push(chunk({}, 'stop')) + w.end(undefined, { prompt_tokens: 40, completion_tokens: 1, total_tokens: 41 }));
    assert.equal(ev[0]!.data.message.usage.input_tokens, 42);
    assert.equal(ev.find((e) => e.event === 'message_delta')!.data.usage.input_tokens, 40);
  });

  test('an empty answer still opens and closes the message', () => {
    const w = new MessagesStreamWriter('gw', undefined);
    const ev = events(w.push(chunk({ role: 'assistant', content: '' })) + w.push(chunk({}, 'stop')) + w.end());
    assert.deepEqual(ev.map((e) => e.event), ['message_start', 'ping', 'message_delta', 'message_stop']);
    assert.equal(ev[2]!.data.delta.stop_reason, 'end_turn');
  });
});

describe('errors in Anthropic shape with matching statuses', () => {
  test('each class of failure', () => {
    const cases: Array<[unknown, number, string]> = [
      [new GatewayHttpError(401, 'no key', 'invalid_request_error', 'missing_api_key'), 401, 'authentication_error'],
      [new GatewayHttpError(404, 'no model', 'invalid_request_error', 'model_not_found', 'model'), 404, 'not_found_error'],
      [new GatewayHttpError(400, 'bad', 'invalid_request_error'), 400, 'invalid_request_error'],
      [new ProviderError({ provider: 'p', status: 429, errorClass: 'rate_limited', message: 'slow down', retryAfterMs: 2000 }), 429, 'rate_limit_error'],
      [new ProviderError({ provider: 'p', status: 529, errorClass: 'server_error', message: 'overloaded' }), 529, 'overloaded_error'],
      [new ProviderError({ provider: 'p', status: 503, errorClass: 'server_error', message: 'unavailable' }), 529, 'overloaded_error'],
      [new ProviderError({ provider: 'p', status: 500, errorClass: 'server_error', message: 'boom' }), 500, 'api_error'],
      [new ProviderError({ provider: 'p', status: 401, errorClass: 'auth', message: 'provider key bad' }), 500, 'api_error'],
      [new Error('internal detail'), 500, 'api_error'],
    ];
    for (const [err, status, type] of cases) {
      const r = toAnthropicErrorReply(err);
      assert.equal(r.status, status, type);
      assert.equal(r.body.type, 'error');
      assert.equal(r.body.error.type, type);
      assert.equal(typeof r.body.error.message, 'string');
      assert.ok(!r.body.error.message.includes('internal detail'));
    }
    assert.equal(toAnthropicErrorReply(cases[3]![0]).retryAfterSeconds, 2);
  });
});
