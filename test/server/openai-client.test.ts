import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { DEFAULT_CONFIG_YAML } from '../../src/config/index.js';
import { chunkFrame, startGateway, Upstream, upstreamConfig, type RunningGateway } from './helpers.js';

describe('OpenAI SDK against the gateway (built-in default config, mock provider)', () => {
  let g: RunningGateway;
  let client: OpenAI;
  before(async () => {
    g = await startGateway(DEFAULT_CONFIG_YAML);
    client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(() => g.close());

  test('non-streaming completion', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'demo-chat', messages: [{ role: 'user', content: 'ping' }] }).withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices[0]!.message.role, 'assistant');
    assert.match(data.choices[0]!.message.content ?? '', /ping/);
    assert.equal(data.choices[0]!.finish_reason, 'stop');
    assert.ok(data.usage && data.usage.total_tokens > 0);
    assert.match(response.headers.get('x-adapterpool-deployment') ?? '', /^mock-chat:mock-[ab]$/);
    assert.equal(response.headers.get('x-adapterpool-attempts'), '1');
  });

  test('streaming completion: chunks, finish reason, then the end', async () => {
    const stream = await client.chat.completions.create({ model: 'demo-chat', messages: [{ role: 'user', content: 'stream me' }], stream: true });
    let text = '';
    let chunks = 0;
    let finish: string | null = null;
    for await (const chunk of stream) {
      chunks++;
      assert.equal(chunk.object, 'chat.completion.chunk');
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.ok(chunks > 2, `only ${chunks} chunks`);
    assert.match(text, /stream me/);
    assert.equal(finish, 'stop');
  });

  test('stream_options.include_usage adds a usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'demo-failover',
      messages: [{ role: 'user', content: 'count' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const usage = [];
    for await (const chunk of stream) if (chunk.usage) usage.push({ usage: chunk.usage, choices: chunk.choices.length });
    assert.equal(usage.length, 1);
    assert.equal(usage[0]!.choices, 0);
    assert.ok(usage[0]!.usage.total_tokens > 0);
  });

  test('models: the configured names in OpenAI list shape', async () => {
    const ids = [];
    for await (const m of client.models.list()) {
      assert.equal(m.object, 'model');
      assert.equal(m.owned_by, 'adapterpool');
      ids.push(m.id);
    }
    assert.deepEqual(ids, ['demo-chat', 'demo-failover']);
    assert.equal((await client.models.retrieve('demo-chat')).id, 'demo-chat');
  });

  test('an unknown model is a 404 NotFoundError with code model_not_found', async () => {
    await assert.rejects(client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.NotFoundError);
      assert.equal(err.code, 'model_not_found');
      assert.equal(err.param, 'model');
      return true;
    });
  });
});

describe('OpenAI SDK through a loopback upstream (openai-compatible adapter)', () => {
  let up: Upstream;
  let g: RunningGateway;
  let client: OpenAI;
  before(async () => {
    up = await Upstream.start();
    g = await startGateway(upstreamConfig(up.url));
    client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('unknown request fields reach the upstream untouched', async () => {
    const body = {
      model: 'up',
      messages: [{ role: 'user', content: 'hi', custom_part: { a: 1 } }],
      thinking: { type: 'enabled' },
      enable_thinking: true,
      temperature: 0.25,
      reasoning_effort: 'minimal',
    };
    const c = await client.chat.completions.create(body as never);
    assert.equal(c.choices[0]!.message.content, 'hello from upstream');
    const seen = up.requests.at(-1)!.body;
    assert.deepEqual(seen.thinking, { type: 'enabled' });
    assert.equal(seen.enable_thinking, true);
    assert.equal(seen.temperature, 0.25);
    assert.equal(seen.reasoning_effort, 'minimal');
    assert.deepEqual(seen.messages[0].custom_part, { a: 1 });
    assert.equal(seen.model, 'up-model', 'the upstream model id replaces the gateway name');
  });

  test('SSE is written as chunks arrive, not buffered', async () => {
    // The upstream sends the second chunk only after the client has received the first.
    let releaseSecond!: () => void;
    const second = new Promise<void>((resolve) => (releaseSecond = resolve));
    up.onChat = (req) => {
      req.res.writeHead(200, { 'content-type': 'text/event-stream' });
      req.res.write(chunkFrame('first'));
      void second.then(() => {
        req.res.write(chunkFrame('second'));
        req.res.write(chunkFrame(null, 'stop'));
        req.res.end('data: [DONE]\n\n');
      });
    };
    const stream = await client.chat.completions.create({ model: 'up', messages: [{ role: 'user', content: 'x' }], stream: true });
    const seen: string[] = [];
    for await (const chunk of stream) {
      const c = chunk.choices[0]?.delta.content;
      if (c) seen.push(c);
      if (c === 'first') releaseSecond();
    }
    assert.deepEqual(seen, ['first', 'second']);
  });
});
