import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, chunkFrame, completion, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * Seeded fuzzing of POST /v1/chat/completions and /v1/messages (issue 16): a few thousand mutated
 * bodies against a loopback upstream that answers every request it gets, OpenAI- or Anthropic-shaped,
 * so both translations are reached. Whatever a client sends: never a 500, every error in the
 * endpoint's shape, no deployment's circuit opened, and the gateway serves normally afterwards. The seed is fixed so a failure replays; FUZZ_SEED picks another.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);
const CASES = 3000;
const MESSAGES_CASES = 1500;
const CONCURRENCY = 8;

/** mulberry32: a small, fast, seedable PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  body: string;
  contentType: string;
}

/** What a fuzzed endpoint's bodies are made from: a valid body, and the field paths mutated. */
interface BodySpec {
  valid: (pick: <T>(xs: readonly T[]) => T, random: () => number) => Record<string, unknown>;
  paths: readonly string[];
}

const CHAT: BodySpec = {
  valid: (pick, random) => ({
    model: pick(['up', 'up', 'up', 'stream-up', 'claude', 'nope']),
    messages: [{ role: 'user', content: 'hello' }],
    ...(random() < 0.3 ? { stream: true } : {}),
  }),
  paths: [
    'model', 'messages', 'stream', 'stream_options', 'temperature', 'max_tokens', 'tools', 'n', 'messages.0', 'messages.0.role', 'messages.0.content',
    'stream_options.include_usage', '__proto__', 'constructor',
    // What the Anthropic translation reads (the `claude` model).
    'tools.0', 'tools.0.function', 'tools.0.function.name', 'tool_choice', 'tool_choice.function', 'messages.0.content.0', 'messages.0.content.0.image_url',
    'messages.1.role', 'messages.1.tool_calls', 'messages.1.tool_calls.0.function', 'stop', 'user', 'reasoning_effort', 'parallel_tool_calls',
  ],
};

const MESSAGES: BodySpec = {
  valid: (pick, random) => ({
    model: pick(['up', 'claude']),
    max_tokens: 16,
    messages: [{ role: 'user', content: 'hello' }],
    ...(random() < 0.3 ? { stream: true } : {}),
  }),
  paths: [
    'model', 'max_tokens', 'messages', 'stream', 'system', 'system.0', 'system.0.text', 'tools', 'tools.0', 'tools.0.name', 'tools.0.type', 'tools.0.input_schema',
    'tool_choice', 'tool_choice.type', 'tool_choice.name', 'messages.0', 'messages.0.role', 'messages.0.content', 'messages.0.content.0',
    'messages.0.content.0.type', 'messages.0.content.0.content', 'messages.0.content.0.source', 'messages.0.content.0.input', 'messages.1.role',
    'messages.1.content', 'stop_sequences', 'temperature', 'metadata', 'thinking', '__proto__',
  ],
};

function generator(random: () => number, spec: BodySpec) {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const nest = (depth: number, open: string, close: string, inner: string) => open.repeat(depth) + inner + close.repeat(depth);
  const strings = ['', 'hi', 'x'.repeat(5000), '\u0000', '\ud800', '😀'.repeat(50), '"', '\\', '${X}', '%ff', '<script>', '__proto__', 'up', 'constructor'];
  const values = (): unknown[] => [
    null,
    true,
    false,
    0,
    -1,
    1e308,
    -0,
    3.5,
    Number.MAX_SAFE_INTEGER + 2,
    pick(strings),
    [],
    {},
    [pick(strings)],
    { role: pick(strings) },
    { __proto__: { polluted: true } },
    // Shapes a translation reads: content blocks and parts, tool definitions.
    { type: 'text', text: pick(strings) },
    { type: 'tool_result', tool_use_id: 'toolu_1', content: pick([[{}], 5, [null], 'ok']) },
    { type: 'image_url', image_url: pick([null, 'data:image/png;base64,AA==', { url: 5 }]) },
    { type: 'image', source: pick([null, { type: 'zzz' }, { type: 'url', url: 'http://x/y.png' }]) },
    { function: pick([{}, { name: 'f' }, null]) },
    [{ type: pick(strings) }],
  ];
  const valid = (): Record<string, unknown> => spec.valid(pick, random);
  const paths = spec.paths;

  const mutateObject = (): Record<string, unknown> => {
    const body = valid();
    for (let k = 1 + int(3); k > 0; k--) {
      const path = pick(paths).split('.');
      let target: any = body;
      for (let i = 0; i < path.length - 1; i++) {
        const key = path[i]!;
        if (target[key] === null || typeof target[key] !== 'object') target[key] = /^\d+$/.test(path[i + 1]!) ? [] : {};
        target = target[key];
      }
      const last = path[path.length - 1]!;
      if (random() < 0.15) delete target[last];
      else Object.defineProperty(target, last, { value: pick(values()), enumerable: true, writable: true, configurable: true });
    }
    return body;
  };

  return (): Case => {
    const kind = int(10);
    let body: string;
    switch (kind) {
      case 0: {
        // Byte-level damage to a valid body.
        const text = JSON.stringify(valid());
        const at = int(text.length);
        body = pick([text.slice(0, at), text.slice(0, at) + pick(['"', '{', ']', '\\', '\u0000', ',,']) + text.slice(at), text.replace(/"/g, pick(["'", '', '\\"']))]);
        break;
      }
      case 1: {
        // Deep nesting somewhere in the body (far past server.maxJsonDepth, and near it).
        const depth = pick([10, 127, 129, 500, 5000, 20_000]);
        const inner = pick([nest(depth, '[', ']', '1'), nest(depth, '{"a":', '}', '1')]);
        body = pick([
          `{"model":"up","messages":[{"role":"user","content":"x","extra":${inner}}]}`,
          `{"model":"up","messages":${inner}}`,
          inner,
          `{"model":"up","messages":[{"role":"user","content":${inner}}],"stream":true}`,
        ]);
        break;
      }
      case 2:
        body = pick(['', 'null', '[]', '"x"', '1', 'true', '{}', '{"model":null}', '{"__proto__":{"model":"up"}}', '{"constructor":{"prototype":{"x":1}}}']);
        break;
      case 3: {
        // Long values where the gateway might echo them.
        const b = valid();
        b.model = pick(['m'.repeat(70_000), '\u202e'.repeat(1000), 'a\nb', '../../etc/passwd']);
        body = JSON.stringify(b);
        break;
      }
      default:
        body = JSON.stringify(mutateObject());
    }
    const contentType = random() < 0.05 ? pick(['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/jsonx', '']) : 'application/json';
    return { body, contentType };
  };
}

/** OpenAI's error shape: `{"error":{"message","type","param","code"}}` and nothing else. */
function assertErrorShape(json: any, context: string): void {
  assert.ok(json && typeof json === 'object' && json.error && typeof json.error === 'object', `not the error shape: ${context}`);
  assert.equal(typeof json.error.message, 'string', context);
  assert.equal(typeof json.error.type, 'string', context);
  assert.ok('param' in json.error && 'code' in json.error, context);
  assert.equal(Object.keys(json).length, 1, context);
}

/** Anthropic's error shape: `{"type":"error","error":{"type","message"}}`. */
function assertAnthropicErrorShape(json: any, context: string): void {
  assert.equal(json?.type, 'error', `not the Anthropic error shape: ${context}`);
  assert.equal(typeof json.error?.type, 'string', context);
  assert.equal(typeof json.error.message, 'string', context);
}

/** An Anthropic Messages answer, streamed or not. */
function anthropicAnswer(res: import('node:http').ServerResponse, stream: boolean): void {
  const message = { id: 'msg_fuzz', type: 'message', role: 'assistant', model: 'claude-up', content: [{ type: 'text', text: 'fuzz' }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 3, output_tokens: 1 } };
  if (!stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(message));
    return;
  }
  const ev = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.end(
    ev('message_start', { message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 3, output_tokens: 0 } } }) +
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'fuzz' } }) +
      ev('content_block_stop', { index: 0 }) +
      ev('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 1 } }) +
      ev('message_stop', {}),
  );
}

describe('fuzzing the chat and messages endpoints (issue 16)', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    up.onChat = (req) => {
      const stream = req.body?.stream === true;
      if (req.url.endsWith('/messages')) return anthropicAnswer(req.res, stream);
      if (stream) {
        req.res.writeHead(200, { 'content-type': 'text/event-stream' });
        req.res.end(`${chunkFrame('fuzz')}${chunkFrame(null, 'stop')}data: [DONE]\n\n`);
      } else {
        completion(req.res, 'fuzz');
      }
    };
    g = await startGateway(`server: { bodyLimit: 1mb }
pool: { minPoolSize: 1, maxPoolSize: 8 }
routing: { maxAttempts: 2, maxAttemptsPerDeployment: 1, circuitConsecutiveFailures: 3, circuitMinRequests: 5 }
providers:
  a: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "fuzz-provider-key" }
  b: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "fuzz-provider-key" }
  c: { type: anthropic, baseUrl: "${up.url}", apiKey: "fuzz-provider-key-ant" }
models:
  up: { strategy: round_robin, providers: [{ provider: a, model: up-model }, { provider: b, model: up-model }] }
  stream-up: { strategy: failover, providers: [{ provider: b, model: up-model }, { provider: a, model: up-model }] }
  claude: { providers: [{ provider: c, model: claude-up }] }
`);
    // The fuzzer's thousands of lines are not what this test reads.
    g.logs.length = 0;
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  /**
   * Send `cases` bodies from `spec` to `paths` (picked per case): never a 5xx of ours, every error in
   * the endpoint's shape, no provider key in a reply; then no circuit opened and every model serves.
   */
  async function fuzz(seed: number, cases: number, spec: BodySpec, paths: readonly string[], anthropic: boolean): Promise<Map<number, number>> {
    const random = prng(seed);
    const next = generator(random, spec);
    const all = Array.from({ length: cases }, () => ({ ...next(), path: paths[Math.floor(random() * paths.length)]! }));
    const statuses = new Map<number, number>();
    let i = 0;
    const worker = async () => {
      while (i < all.length) {
        const n = i++;
        const c = all[n]!;
        const headers: Record<string, string> = c.contentType === '' ? {} : { 'content-type': c.contentType };
        const res = await fetch(`${g.url}${c.path}`, { method: 'POST', headers, body: c.body });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const context = `case ${n} (seed ${seed}): ${res.status} for POST ${c.path} ${c.contentType} ${c.body.slice(0, 200)} -> ${text.slice(0, 300)}`;
        assert.ok(res.status < 500, context);
        assert.ok(res.headers.get('x-request-id'), context);
        assert.ok(!text.includes('fuzz-provider-key'), context);
        if (res.status === 200) {
          if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) assert.ok(anthropic ? text.includes('event: message_stop') : text.endsWith('data: [DONE]\n\n'), context);
          else assert.ok(JSON.parse(text) !== null, context);
        } else if (anthropic) {
          assertAnthropicErrorShape(JSON.parse(text), context);
        } else {
          assertErrorShape(JSON.parse(text), context);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    g.logs.length = 0;
    if (process.env.FUZZ_VERBOSE) console.log(JSON.stringify([...statuses].sort()));
    assert.equal([...statuses.values()].reduce((a, b) => a + b, 0), cases);
    assert.ok((statuses.get(200) ?? 0) > cases / 20, `too few valid requests to mean anything: ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(400) ?? 0) > cases / 5, `too few rejected: ${JSON.stringify([...statuses])}`);

    const deployments = await call(g.url, 'GET', '/v1/pool/deployments');
    for (const d of deployments.json.data.deployments as Array<{ key: string; circuit: string; consecutive_failures: number }>) {
      assert.equal(d.circuit, 'closed', `${d.key} circuit opened by client input`);
      assert.equal(d.consecutive_failures, 0, `${d.key} counted client input as its failure`);
    }
    for (const model of ['up', 'stream-up', 'claude']) {
      const ok = await call(g.url, 'POST', '/v1/chat/completions', { body: { model, messages: [{ role: 'user', content: 'after the fuzz' }] } });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.json.choices[0].message.content, 'fuzz');
    }
    assert.equal((await call(g.url, 'GET', '/health')).status, 200);
    return statuses;
  }

  test(`${CASES} seeded mutated bodies to /v1/chat/completions: 0 × 500, every reply in the API shape, no circuit opened, serving afterwards`, async () => {
    await fuzz(SEED, CASES, CHAT, ['/v1/chat/completions'], false);
  });

  test(`${MESSAGES_CASES} seeded mutated bodies to /v1/messages and count_tokens: the same, in the Anthropic shape`, async () => {
    await fuzz(SEED + 1, MESSAGES_CASES, MESSAGES, ['/v1/messages', '/v1/messages', '/v1/messages/count_tokens'], true);
  });
});
