import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import OpenAI from 'openai';
import { decodeEmbedding, encodeEmbedding } from '../../src/providers/index.js';
import { call, startGateway, Upstream, type RunningGateway, type UpstreamRequest } from './helpers.js';

/** A deterministic vector per input text, as an OpenAI-compatible upstream would answer (floats that are exact float32). */
function vectorOf(text: string, dims = 4): number[] {
  return Array.from({ length: dims }, (_, i) => Math.fround(((text.length + 1) * (i + 1)) / 64));
}

/** The loopback upstream's embeddings endpoint; `honourBase64: false` plays an upstream that ignores encoding_format. */
function embeddingsUpstream(up: Upstream, opts: { honourBase64?: boolean; status?: number } = {}): void {
  up.onChat = (r: UpstreamRequest) => {
    if (opts.status !== undefined) {
      r.res.writeHead(opts.status, { 'content-type': 'application/json' });
      r.res.end(JSON.stringify({ error: { message: 'embedder down', type: 'server_error', code: null } }));
      return;
    }
    const input: unknown = r.body.input;
    const items = typeof input === 'string' ? [input] : typeof (input as unknown[])[0] === 'number' ? [input] : (input as unknown[]);
    const base64 = r.body.encoding_format === 'base64' && opts.honourBase64 !== false;
    const data = items.map((item, index) => {
      const v = vectorOf(typeof item === 'string' ? item : JSON.stringify(item));
      return { object: 'embedding', index, embedding: base64 ? encodeEmbedding(v) : v };
    });
    r.res.writeHead(200, { 'content-type': 'application/json' });
    r.res.end(JSON.stringify({ object: 'list', data, model: r.body.model, usage: { prompt_tokens: items.length * 2, total_tokens: items.length * 2 } }));
  };
}

describe('OpenAI SDK embeddings.create -> an OpenAI-compatible loopback upstream', () => {
  let up: Upstream;
  let g: RunningGateway;
  let client: OpenAI;
  before(async () => {
    up = await Upstream.start();
    g = await startGateway(`auth: { apiKeys: [gw-key] }
routing: { maxAttempts: 1 }
providers:
  loop: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "provider-secret-key-123" }
models:
  embedder: { endpoints: [embeddings], providers: [{ provider: loop, model: up-embed }] }
  chatter: { providers: [{ provider: loop, model: up-model }] }
  both: { endpoints: [chat, embeddings], providers: [{ provider: loop, model: up-embed }] }
`);
    client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'gw-key', maxRetries: 0 });
  });
  after(async () => {
    await g.close();
    await up.close();
  });
  beforeEach(() => {
    up.requests.length = 0;
    embeddingsUpstream(up);
  });

  test('a string: one embedding, usage, the upstream model id and the provider key upstream', async () => {
    const { data: res, response } = await client.embeddings.create({ model: 'embedder', input: 'hello world', encoding_format: 'float' }).withResponse();
    assert.equal(res.object, 'list');
    assert.equal(res.data.length, 1);
    assert.deepEqual(res.data[0], { object: 'embedding', index: 0, embedding: vectorOf('hello world') });
    assert.deepEqual(res.usage, { prompt_tokens: 2, total_tokens: 2 });
    assert.equal(response.headers.get('x-adapterpool-deployment'), 'up-embed:loop');
    assert.equal(response.headers.get('x-adapterpool-attempts'), '1');
    const sent = up.requests[0]!;
    assert.equal(sent.url, '/v1/embeddings');
    assert.equal(sent.headers.authorization, 'Bearer provider-secret-key-123');
    assert.deepEqual(sent.body, { model: 'up-embed', input: 'hello world', encoding_format: 'float' });
  });

  test('an array: one embedding per input, in order; dimensions and user go upstream', async () => {
    const res = await client.embeddings.create({ model: 'embedder', input: ['a', 'bbb', 'cc'], dimensions: 4, user: 'u-1', encoding_format: 'float' });
    assert.deepEqual(res.data.map((d) => d.index), [0, 1, 2]);
    assert.deepEqual(res.data.map((d) => d.embedding), [vectorOf('a'), vectorOf('bbb'), vectorOf('cc')]);
    assert.equal(up.requests[0]!.body.dimensions, 4);
    assert.equal(up.requests[0]!.body.user, 'u-1');
  });

  test('encoding_format base64: the SDK decodes it to the same floats (upstream honours it, or ignores it and the gateway encodes)', async () => {
    const floats = (await client.embeddings.create({ model: 'embedder', input: ['x', 'yy'], encoding_format: 'float' })).data.map((d) => d.embedding);
    // The SDK asks for base64 when no encoding is given, and decodes it.
    const viaSdk = await client.embeddings.create({ model: 'embedder', input: ['x', 'yy'] });
    assert.equal(up.requests.at(-1)!.body.encoding_format, 'base64');
    assert.deepEqual(viaSdk.data.map((d) => d.embedding), floats);
    const raw = await call(g.url, 'POST', '/v1/embeddings', { key: 'gw-key', body: { model: 'embedder', input: ['x', 'yy'], encoding_format: 'base64' } });
    assert.equal(typeof raw.json.data[0].embedding, 'string');
    assert.deepEqual(raw.json.data.map((d: { embedding: string }) => decodeEmbedding(d.embedding)), floats);

    embeddingsUpstream(up, { honourBase64: false });
    const ignored = await call(g.url, 'POST', '/v1/embeddings', { key: 'gw-key', body: { model: 'embedder', input: ['x', 'yy'], encoding_format: 'base64' } });
    assert.equal(typeof ignored.json.data[1].embedding, 'string');
    assert.deepEqual(ignored.json.data.map((d: { embedding: string }) => decodeEmbedding(d.embedding)), floats);
    assert.deepEqual((await client.embeddings.create({ model: 'embedder', input: ['x', 'yy'] })).data.map((d) => d.embedding), floats);
  });

  test('token ids: an array of ids and an array of arrays', async () => {
    assert.equal((await client.embeddings.create({ model: 'embedder', input: [1, 2, 3], encoding_format: 'float' })).data.length, 1);
    assert.equal((await client.embeddings.create({ model: 'embedder', input: [[1, 2], [3]], encoding_format: 'float' })).data.length, 2);
  });

  test('a model serves only its endpoints: 400 param model naming the other one, both ways', async () => {
    await assert.rejects(client.embeddings.create({ model: 'chatter', input: 'x' }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.equal(err.param, 'model');
      assert.match(err.message, /POST \/v1\/chat\/completions/);
      return true;
    });
    await assert.rejects(client.chat.completions.create({ model: 'embedder', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      assert.equal(err.param, 'model');
      assert.match(err.message, /POST \/v1\/embeddings/);
      return true;
    });
    assert.equal((await client.embeddings.create({ model: 'both', input: 'x' })).data.length, 1);
    assert.equal(up.requests.length, 1);
  });

  test('/v1/models keeps its shape: embeddings models listed like chat ones, nothing added', async () => {
    const list = await call(g.url, 'GET', '/v1/models', { key: 'gw-key' });
    assert.deepEqual(Object.keys(list.json), ['object', 'data']);
    assert.deepEqual(list.json.data.map((m: { id: string }) => m.id), ['embedder', 'chatter', 'both']);
    for (const m of list.json.data) assert.deepEqual(Object.keys(m).sort(), ['created', 'id', 'object', 'owned_by']);
    const one = await client.models.retrieve('embedder');
    assert.deepEqual({ id: one.id, object: one.object, owned_by: one.owned_by }, { id: 'embedder', object: 'model', owned_by: 'adapterpool' });
  });

  test('regression: every malformed input (an empty token array, a number, mixed items) was told "must be string"', async () => {
    for (const input of [[[]], 5, [1, 'a'], ['a', 1], [-1], [[1], ['a']], [1.5], null, []]) {
      const r = await call(g.url, 'POST', '/v1/embeddings', { key: 'gw-key', body: { model: 'embedder', input } });
      assert.equal(r.status, 400, JSON.stringify(input));
      assert.equal(r.json.error.param, 'input');
      assert.equal(r.json.error.message, "Invalid value for 'input': must be a string, an array of strings, an array of token ids (integers >= 0) or an array of such arrays, none of them empty.", JSON.stringify(input));
    }
    const content = await call(g.url, 'POST', '/v1/messages', { key: 'gw-key', body: { model: 'chatter', max_tokens: 4, messages: [{ role: 'user', content: 5 }] } });
    assert.equal(content.status, 400);
    assert.equal(content.json.error.message, "Invalid value for 'messages[0].content': must be a string or an array of content blocks (objects with a type).");
    const system = await call(g.url, 'POST', '/v1/messages', { key: 'gw-key', body: { model: 'chatter', max_tokens: 4, system: 5, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(system.json.error.message, "Invalid value for 'system': must be a string or an array of text blocks.");
    assert.equal(up.requests.length, 0);
  });

  test('bad input is a 400 naming the field; unknown model 404; no key 401', async () => {
    const empty = await call(g.url, 'POST', '/v1/embeddings', { key: 'gw-key', body: { model: 'embedder', input: [] } });
    assert.equal(empty.status, 400);
    assert.equal(empty.json.error.param, 'input');
    const enc = await call(g.url, 'POST', '/v1/embeddings', { key: 'gw-key', body: { model: 'embedder', input: 'x', encoding_format: 'hex' } });
    assert.equal(enc.status, 400);
    assert.equal(enc.json.error.param, 'encoding_format');
    await assert.rejects(client.embeddings.create({ model: 'nope', input: 'x' }), (err: unknown) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found');
    const anon = await call(g.url, 'POST', '/v1/embeddings', { body: { model: 'embedder', input: 'x' } });
    assert.equal(anon.status, 401);
    assert.equal(up.requests.length, 0);
  });

  test('one log line per request, no prompt, no key; requests counted in the metrics', async () => {
    await client.embeddings.create({ model: 'embedder', input: 'count me', encoding_format: 'float' });
    const line = g.logs.map((l) => JSON.parse(l)).filter((l) => l.msg === 'embeddings').at(-1);
    assert.equal(line.model, 'embedder');
    assert.equal(line.deployment, 'up-embed:loop');
    assert.equal(line.status, 200);
    assert.deepEqual(line.tokens, { prompt: 2, completion: 0, total: 2 });
    assert.equal(line.prompt, undefined);
    const all = g.logs.join('');
    assert.ok(!all.includes('provider-secret-key-123') && !all.includes('gw-key'));
    const metrics = await call(g.url, 'GET', '/metrics', { key: 'gw-key' });
    assert.match(metrics.text, /adapterpool_requests_total\{model="embedder",upstream_model="up-embed",provider="loop",status="200"\} [1-9]/);
  });
});

describe('embeddings failover and the mock provider', () => {
  let up: Upstream;
  let g: RunningGateway;
  let client: OpenAI;
  before(async () => {
    up = await Upstream.start();
    g = await startGateway(`routing: { maxAttempts: 3, maxAttemptsPerDeployment: 1, retryBackoffInitial: 1ms, retryBackoffMax: 2ms }
providers:
  broken: { type: openai-compatible, baseUrl: "${up.url}" }
  m: { type: mock, mock: { dimensions: 8 } }
models:
  failing-over: { strategy: failover, endpoints: [embeddings], providers: [{ provider: broken, model: e1, priority: 0 }, { provider: m, model: mock-embed, priority: 1 }] }
  mocked: { endpoints: [embeddings], providers: [{ provider: m, model: mock-embed }] }
`);
    client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('the first deployment answers 503: the request fails over to the second', async () => {
    embeddingsUpstream(up, { status: 503 });
    const { data: res, response } = await client.embeddings.create({ model: 'failing-over', input: 'fail me over', encoding_format: 'float' }).withResponse();
    assert.ok(up.requests.length >= 1);
    assert.equal(response.headers.get('x-adapterpool-deployment'), 'mock-embed:m');
    assert.equal(response.headers.get('x-adapterpool-attempts'), '2');
    assert.equal(res.data[0]!.embedding.length, 8);
  });

  test('the mock: the same input gives the same vector; base64 decodes to it exactly', async () => {
    const a = await client.embeddings.create({ model: 'mocked', input: ['same', 'other'], encoding_format: 'float' });
    const b = await client.embeddings.create({ model: 'mocked', input: 'same', encoding_format: 'float' });
    assert.deepEqual(b.data[0]!.embedding, a.data[0]!.embedding);
    assert.notDeepEqual(a.data[1]!.embedding, a.data[0]!.embedding);
    const viaBase64 = await client.embeddings.create({ model: 'mocked', input: 'same' });
    assert.deepEqual(viaBase64.data[0]!.embedding, a.data[0]!.embedding);
    const raw = await call(g.url, 'POST', '/v1/embeddings', { body: { model: 'mocked', input: 'same', encoding_format: 'base64' } });
    assert.deepEqual(decodeEmbedding(raw.json.data[0].embedding), a.data[0]!.embedding);
    assert.deepEqual(a.usage, { prompt_tokens: 2, total_tokens: 2 });
    const dims = await client.embeddings.create({ model: 'mocked', input: 'same', dimensions: 3, encoding_format: 'float' });
    assert.equal(dims.data[0]!.embedding.length, 3);
  });
});

describe('embeddings failover between two loopback deployments, with circuits', () => {
  let down: Upstream;
  let good: Upstream;
  let g: RunningGateway;
  let client: OpenAI;
  before(async () => {
    down = await Upstream.start();
    good = await Upstream.start();
    g = await startGateway(`routing: { maxAttempts: 2, maxAttemptsPerDeployment: 1, retryBackoffInitial: 1ms, retryBackoffMax: 2ms, circuitConsecutiveFailures: 2, circuitCooldown: 1h }
providers:
  east: { type: openai-compatible, baseUrl: "${down.url}" }
  west: { type: openai-compatible, baseUrl: "${good.url}" }
models:
  embed: { strategy: failover, endpoints: [embeddings], providers: [{ provider: east, model: e-east, priority: 0 }, { provider: west, model: e-west, priority: 1 }] }
`);
    client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    embeddingsUpstream(down, { status: 500 });
    embeddingsUpstream(good);
  });
  after(async () => {
    await g.close();
    await down.close();
    await good.close();
  });

  test('the preferred deployment fails: each request is served by the other; after two failures its circuit opens and it is skipped', async () => {
    for (let i = 0; i < 4; i++) {
      const { data: res, response } = await client.embeddings.create({ model: 'embed', input: `text ${i}`, encoding_format: 'float' }).withResponse();
      assert.deepEqual(res.data[0]!.embedding, vectorOf(`text ${i}`));
      assert.equal(response.headers.get('x-adapterpool-deployment'), 'e-west:west');
      assert.equal(response.headers.get('x-adapterpool-attempts'), i < 2 ? '2' : '1', `request ${i}`);
    }
    assert.equal(down.requests.length, 2);
    assert.deepEqual(down.requests.map((r) => r.body.model), ['e-east', 'e-east']);
    assert.deepEqual(good.requests.map((r) => r.body.model), ['e-west', 'e-west', 'e-west', 'e-west']);
    const deployments = await call(g.url, 'GET', '/v1/pool/deployments');
    const east = deployments.json.data.deployments.find((d: { key: string }) => d.key === 'e-east:east');
    assert.equal(east.circuit, 'open');
  });
});
