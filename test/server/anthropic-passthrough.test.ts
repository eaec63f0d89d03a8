import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, beforeEach, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { startGateway, Upstream, type RunningGateway, type UpstreamRequest } from './helpers.js';

/** An answer of the Anthropic-shaped loopback upstream: content blocks, stop reason, usage. */
interface Answer {
  content: Array<{ type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> } | { type: 'thinking'; thinking: string; signature: string }>;
  stop_reason: string;
  usage: { input_tokens: number; output_tokens: number };
}

function message(a: Answer): Record<string, unknown> {
  return { id: 'msg_up_1', type: 'message', role: 'assistant', model: 'claude-upstream', content: a.content, stop_reason: a.stop_reason, stop_sequence: null, stop_details: null, usage: { ...a.usage, cache_creation_input_tokens: null, cache_read_input_tokens: null } };
}

function event(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

/** The same answer as Anthropic's event stream. */
function events(a: Answer): string {
  const m = message(a);
  let out = event('message_start', { message: { ...m, content: [], stop_reason: null, stop_details: undefined, usage: { ...(m.usage as object), output_tokens: 1 } } }) + event('ping', {});
  a.content.forEach((b, index) => {
    if (b.type === 'text') {
      out += event('content_block_start', { index, content_block: { type: 'text', text: '' } });
      for (let i = 0; i < b.text.length; i += 4) out += event('content_block_delta', { index, delta: { type: 'text_delta', text: b.text.slice(i, i + 4) } });
    } else if (b.type === 'tool_use') {
      out += event('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } });
      const json = JSON.stringify(b.input);
      out += event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(0, 5) } });
      out += event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(5) } });
    } else {
      out += event('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      out += event('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: b.thinking } });
      out += event('content_block_delta', { index, delta: { type: 'signature_delta', signature: b.signature } });
    }
    out += event('content_block_stop', { index });
  });
  return out + event('message_delta', { delta: { stop_reason: a.stop_reason, stop_sequence: null, stop_details: null }, usage: { output_tokens: a.usage.output_tokens } }) + event('message_stop', {});
}

function answerWith(up: Upstream, a: Answer): void {
  up.onChat = (r: UpstreamRequest) => reply(r.res, r.body.stream === true, a);
}

function reply(res: http.ServerResponse, stream: boolean, a: Answer): void {
  if (stream) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(events(a));
  } else {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(message(a)));
  }
}

function plain(m: unknown): unknown {
  const { parsed_output: _p, ...rest } = JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
  return rest;
}

const TOOL = { name: 'get_weather', description: 'weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } };

describe('Anthropic SDK -> /v1/messages -> an Anthropic-shaped upstream (passed through)', () => {
  let up: Upstream;
  let g: RunningGateway;
  let client: Anthropic;
  before(async () => {
    up = await Upstream.start();
    g = await startGateway(`auth: { apiKeys: [gw-key-2] }
routing: { maxAttempts: 1 }
providers:
  claude: { type: anthropic, baseUrl: "${up.url}", apiKey: "sk-ant-provider-secret-456" }
models:
  claude-gw: { providers: [{ provider: claude, model: claude-upstream }] }
`);
    client = new Anthropic({ baseURL: g.url, apiKey: 'gw-key-2', maxRetries: 0 });
  });
  after(async () => {
    await g.close();
    await up.close();
  });
  beforeEach(() => {
    up.requests.length = 0;
  });

  test('count_tokens was always an estimate; on an anthropic deployment the upstream now counts (our model id, the provider key, the client beta)', async () => {
    up.onChat = (r: UpstreamRequest) => {
      r.res.writeHead(200, { 'content-type': 'application/json' });
      r.res.end(JSON.stringify({ input_tokens: 4242 }));
    };
    const params = { model: 'claude-gw', system: 'Be nice.', messages: [{ role: 'user' as const, content: 'Hi' }], tools: [TOOL] };
    const { data, response } = await client.messages.countTokens(params, { headers: { 'anthropic-beta': 'token-counting-2024-11-01' } }).withResponse();
    assert.equal(data.input_tokens, 4242);
    assert.equal(response.headers.get('x-adapterpool-token-count'), 'exact');
    const sent = up.requests[0]!;
    assert.equal(sent.url, '/v1/messages/count_tokens');
    assert.equal(sent.headers['x-api-key'], 'sk-ant-provider-secret-456');
    assert.match(String(sent.headers['anthropic-beta']), /token-counting-2024-11-01/);
    assert.deepEqual(sent.body, { ...params, model: 'claude-upstream' });
  });

  test('count_tokens: an upstream that cannot count (500) gets the estimate instead, said in a header', async () => {
    up.onChat = (r: UpstreamRequest) => {
      r.res.writeHead(500, { 'content-type': 'application/json' });
      r.res.end(JSON.stringify({ type: 'error', error: { type: 'api_error', message: 'boom' } }));
    };
    const { data, response } = await client.messages.countTokens({ model: 'claude-gw', messages: [{ role: 'user', content: 'x'.repeat(400) }] }).withResponse();
    assert.equal(response.headers.get('x-adapterpool-token-count'), 'estimate');
    assert.equal(data.input_tokens, 104); // 400 characters at 4 per token, plus 4 for the message
  });

  test('messages.create: the body goes upstream as sent (model rewritten, Anthropic-only fields kept), the provider key, the client beta', async () => {
    const a: Answer = { content: [{ type: 'thinking', thinking: 'hmm', signature: 'sig-1' }, { type: 'text', text: 'Hello from Claude.' }], stop_reason: 'end_turn', usage: { input_tokens: 11, output_tokens: 5 } };
    answerWith(up, a);
    const params = {
      model: 'claude-gw',
      max_tokens: 2048,
      system: [{ type: 'text' as const, text: 'Be nice.', cache_control: { type: 'ephemeral' as const } }],
      thinking: { type: 'enabled' as const, budget_tokens: 1024 },
      messages: [{ role: 'user' as const, content: 'Hi' }],
    };
    const msg = await client.messages.create(params, { headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14' } });
    assert.deepEqual(plain(msg), message(a));
    const sent = up.requests[0]!;
    assert.equal(sent.url, '/v1/messages');
    assert.deepEqual(sent.body, { ...params, model: 'claude-upstream' });
    assert.equal(sent.headers['x-api-key'], 'sk-ant-provider-secret-456');
    assert.equal(sent.headers['anthropic-beta'], 'interleaved-thinking-2025-05-14');
    assert.equal(sent.headers.authorization, undefined);
  });

  test('messages.stream: the upstream events byte for byte; finalMessage() equals messages.create for the same answer', async () => {
    const a: Answer = { content: [{ type: 'text', text: 'Streaming through the gateway.' }], stop_reason: 'end_turn', usage: { input_tokens: 6, output_tokens: 7 } };
    answerWith(up, a);
    const params = { model: 'claude-gw', max_tokens: 64, messages: [{ role: 'user' as const, content: 'stream' }] };
    const created = await client.messages.create(params);
    const final = await client.messages.stream(params).finalMessage();
    assert.deepEqual(plain(final), plain(created));
    const raw = await fetch(`${g.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'gw-key-2', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ ...params, stream: true }),
    });
    assert.equal(await raw.text(), events(a));
    assert.equal(up.requests.at(-1)!.body.stream, true);
  });

  for (const mode of ['create', 'stream'] as const) {
    test(`tool call round trip (${mode}): tool_use, then tool_result back to the upstream untouched`, async () => {
      answerWith(up, { content: [{ type: 'tool_use', id: 'toolu_9', name: 'get_weather', input: { city: 'Oslo' } }], stop_reason: 'tool_use', usage: { input_tokens: 30, output_tokens: 9 } });
      const first = { model: 'claude-gw', max_tokens: 64, tools: [TOOL], messages: [{ role: 'user' as const, content: 'Weather in Oslo?' }] };
      const msg = mode === 'create' ? await client.messages.create(first) : await client.messages.stream(first).finalMessage();
      assert.equal(msg.stop_reason, 'tool_use');
      const use = msg.content[0]!;
      assert.ok(use.type === 'tool_use');
      assert.deepEqual(use.input, { city: 'Oslo' });

      answerWith(up, { content: [{ type: 'text', text: 'Cold.' }], stop_reason: 'end_turn', usage: { input_tokens: 50, output_tokens: 2 } });
      const second = {
        ...first,
        messages: [...first.messages, { role: 'assistant' as const, content: msg.content }, { role: 'user' as const, content: [{ type: 'tool_result' as const, tool_use_id: use.id, content: '-3°C' }] }],
      };
      const answer = mode === 'create' ? await client.messages.create(second) : await client.messages.stream(second).finalMessage();
      assert.deepEqual(answer.content, [{ type: 'text', text: 'Cold.' }]);
      assert.deepEqual(up.requests[1]!.body.messages[2], { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_9', content: '-3°C' }] });
    });
  }

  test('an upstream 529 overloaded_error: the SDK sees OverloadedError 529; the provider key is never echoed', async () => {
    up.onChat = (r) => {
      r.res.writeHead(529, { 'content-type': 'application/json' });
      r.res.end(JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
    };
    await assert.rejects(client.messages.create({ model: 'claude-gw', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.OverloadedError, String(err));
      assert.equal(err.status, 529);
      assert.equal((err.error as { type: string; error: { type: string } }).type, 'error');
      assert.equal((err.error as { error: { type: string } }).error.type, 'overloaded_error');
      return true;
    });
    assert.ok(!g.logs.join('').includes('sk-ant-provider-secret-456'));
  });

  test('the 529 went out with the status line "529 unknown": "529 Overloaded"', async () => {
    up.onChat = (r) => {
      r.res.writeHead(529, { 'content-type': 'application/json' });
      r.res.end(JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
    };
    const { request } = await import('node:http');
    const statusLine = await new Promise<string>((resolve, reject) => {
      const req = request(`${g.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'gw-key-2' } }, (res) => {
        res.resume();
        resolve(`${res.statusCode} ${res.statusMessage}`);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'claude-gw', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }));
    });
    assert.equal(statusLine, '529 Overloaded');
  });

  test('an error event after the first byte reaches the client as an Anthropic error event', async () => {
    up.onChat = (r) => {
      r.res.writeHead(200, { 'content-type': 'text/event-stream' });
      r.res.end(events({ content: [{ type: 'text', text: 'partial' }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } }).split('event: message_delta')[0] + event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
    };
    const res = await fetch(`${g.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'gw-key-2' },
      body: JSON.stringify({ model: 'claude-gw', max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'x' }] }),
    });
    const frames = (await res.text()).split('\n\n').filter(Boolean);
    const last = frames.at(-1)!;
    assert.match(last, /^event: error\n/);
    assert.equal(JSON.parse(last.split('\ndata: ')[1]!).error.type, 'overloaded_error');
    assert.ok(frames.some((f) => f.includes('"text":"part"')), 'the events before the error went out');
  });
});
