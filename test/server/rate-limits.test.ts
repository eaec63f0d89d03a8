import assert from 'node:assert/strict';
import type http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { FlexibleLimiter } from '../../src/routing/index.js';
import { chunkFrame, call, Upstream } from './helpers.js';
import { metricValue, parseMetrics, startKeyedGateway } from './keys-helpers.js';

type Gw = Awaited<ReturnType<typeof startKeyedGateway>>;

const KEY = 'sk-limited-team-key';
const FREE = 'sk-free-key';
// Long enough that a burst of 40 fits in one window on a loaded machine.
const WINDOW_MS = 6000;
const HEADERS = ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests'];
const TOKEN_HEADERS = ['x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens'];

const chatBody = (content = 'hi', extra: Record<string, unknown> = {}) => ({ model: 'chat', messages: [{ role: 'user', content }], ...extra });

describe('per-key rpm', () => {
  let g: Gw;
  before(async () => {
    g = await startKeyedGateway(
      `auth:
  keys:
    - { name: team, key: "${KEY}", rpm: 30 }
    - { name: free, key: "${FREE}" }
providers:
  m: { type: mock, mock: { latency: 20ms } }
models:
  chat: { providers: [{ provider: m, model: mock-chat }] }
`,
      { limiter: new FlexibleLimiter({ windowMs: WINDOW_MS }) },
    );
  });
  after(() => g.close());

  test('rpm 30: 40 requests at once -> exactly 30 served, 10 x 429 rate_limit_exceeded with the headers; after the window, served again', async () => {
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 40 }, () => call(g.url, 'POST', '/v1/chat/completions', { key: KEY, body: chatBody() })));
    assert.ok(Date.now() - started < WINDOW_MS, 'the burst must fit in one window for the count to mean anything');
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    assert.equal(ok.length, 30);
    assert.equal(limited.length, 10);
    for (const r of limited) {
      assert.equal(r.json.error.code, 'rate_limit_exceeded');
      assert.equal(r.json.error.type, 'requests');
      assert.match(r.json.error.message, /team.*RPM.*limit 30/);
      const retryAfter = Number(r.headers.get('retry-after'));
      assert.ok(retryAfter >= 1 && retryAfter <= Math.ceil(WINDOW_MS / 1000), `retry-after ${retryAfter}`);
      for (const h of HEADERS) assert.ok(r.headers.get(h) !== null, `429 without ${h}`);
      assert.equal(r.headers.get('x-ratelimit-limit-requests'), '30');
      assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '0');
      assert.match(r.headers.get('x-ratelimit-reset-requests')!, /^(\d+ms|\d+(\.\d+)?s)$/);
      assert.equal(r.headers.get('x-ratelimit-limit-tokens'), null, 'no tpm set: no token headers');
    }
    // Every served response carries the headers too; remaining counts down 29..0 across them.
    for (const r of ok) for (const h of HEADERS) assert.ok(r.headers.get(h) !== null, `200 without ${h}`);
    assert.deepEqual(ok.map((r) => Number(r.headers.get('x-ratelimit-remaining-requests'))).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i));

    // Another key is not affected.
    assert.equal((await call(g.url, 'POST', '/v1/chat/completions', { key: FREE, body: chatBody() })).status, 200);
    // Other responses of the limited key carry the headers as well.
    const models = await call(g.url, 'GET', '/v1/models', { key: KEY });
    assert.equal(models.status, 200);
    assert.equal(models.headers.get('x-ratelimit-remaining-requests'), '0');

    await sleep(WINDOW_MS + 100);
    const again = await call(g.url, 'POST', '/v1/chat/completions', { key: KEY, body: chatBody() });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('x-ratelimit-remaining-requests'), '29');

    const m = parseMetrics((await call(g.url, 'GET', '/metrics', { key: FREE })).text);
    assert.equal(metricValue(m, 'adapterpool_key_rate_limited_total', { key: 'team', reason: 'requests' }), 10);
  });

  test('the OpenAI SDK sees a RateLimitError (429) with the headers', async () => {
    const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: KEY, maxRetries: 0 });
    let err: unknown;
    for (let i = 0; i < 31 && err === undefined; i++) {
      try {
        await client.chat.completions.create(chatBody() as never);
      } catch (e) {
        err = e;
      }
    }
    assert.ok(err instanceof OpenAI.RateLimitError, String(err));
    assert.equal(err.code, 'rate_limit_exceeded');
    assert.equal(err.headers.get('x-ratelimit-remaining-requests'), '0');
  });
});

/** Upstream streaming `reported` total tokens per request (usage chunk at the end), content "tok". */
function streamWithUsage(up: Upstream, usage: { prompt: number; completion: number }): void {
  up.onChat = (req) => {
    req.res.writeHead(200, { 'content-type': 'text/event-stream' });
    req.res.write(chunkFrame('tok'));
    req.res.write(chunkFrame(null, 'stop'));
    req.res.write(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: [], usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion } })}\n\n`);
    req.res.end('data: [DONE]\n\n');
  };
}

/** A keyed gateway (one-minute windows) in front of `up`, with these `auth.keys` lines. */
function upstreamKeyedGateway(up: Upstream, keyLines: string, defaultMaxTokens: number): Promise<Gw> {
  return startKeyedGateway(
    `auth:
  keys:
${keyLines}
limits: { defaultMaxTokens: ${defaultMaxTokens} }
routing: { maxAttempts: 1 }
providers:
  up: { type: openai-compatible, baseUrl: "${up.url}", apiKey: "provider-key" }
models:
  chat: { providers: [{ provider: up, model: up-model }] }
`,
    { limiter: new FlexibleLimiter({ windowMs: 60_000 }) },
  );
}

describe('per-key tpm and maxConcurrent', () => {
  let up: Upstream;
  let g: Gw;
  before(async () => {
    up = await Upstream.start();
    g = await upstreamKeyedGateway(up, `    - { name: tok, key: "${KEY}", tpm: 300 }
    - { name: conc, key: "${FREE}", maxConcurrent: 2 }`, 1000);
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('tpm with streaming usage: reservations are corrected from the usage the stream reported', async () => {
    // Each request reserves ~5 prompt + 50 max_tokens = ~55; the upstream reports 100 used.
    // Charged by reservation, five would pass; charged by usage, three fill the 300 and the fourth is refused.
    streamWithUsage(up, { prompt: 60, completion: 40 });
    const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: KEY, maxRetries: 0 });
    for (let i = 0; i < 3; i++) {
      const s = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 50, stream: true });
      let text = '';
      for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
      assert.equal(text, 'tok');
    }
    const refused = await call(g.url, 'POST', '/v1/chat/completions', { key: KEY, body: chatBody('hi', { max_tokens: 50, stream: true }) });
    assert.equal(refused.status, 429);
    assert.equal(refused.json.error.type, 'tokens');
    assert.equal(refused.json.error.code, 'rate_limit_exceeded');
    assert.equal(refused.headers.get('x-ratelimit-limit-tokens'), '300');
    assert.equal(refused.headers.get('x-ratelimit-remaining-tokens'), '0');
    for (const h of TOKEN_HEADERS) assert.ok(refused.headers.get(h) !== null, h);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    // A stream's own response carries the headers (written with the SSE head).
    const models = await call(g.url, 'GET', '/v1/models', { key: KEY });
    assert.equal(models.headers.get('x-ratelimit-remaining-tokens'), '0');
  });

  test('a request over the window\'s whole budget is reserved at the budget, not refused forever', async () => {
    const g2 = await startKeyedGateway(
      `auth:
  keys:
    - { name: small, key: "${KEY}", tpm: 100 }
limits: { defaultMaxTokens: 100000 }
providers:
  m: { type: mock }
models:
  chat: { providers: [{ provider: m, model: mock-chat }] }
`,
      { limiter: new FlexibleLimiter({ windowMs: 60_000 }) },
    );
    try {
      const r = await call(g2.url, 'POST', '/v1/chat/completions', { key: KEY, body: chatBody() });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('x-ratelimit-limit-tokens'), '100');
      // The 429 that follows named only the uncapped figure ("requested 100005"), not why.
      const again = await call(g2.url, 'POST', '/v1/chat/completions', { key: KEY, body: chatBody() });
      assert.equal(again.status, 429);
      assert.match(again.json.error.message, /requested \d+ \(more than the whole limit: counted as the limit.*lower max_tokens\)/);
    } finally {
      await g2.close();
    }
  });

  test('maxConcurrent 2: a third request in flight is refused with 429, and admitted once one ends', async () => {
    const held: http.ServerResponse[] = [];
    up.onChat = (req) => held.push(req.res);
    const first = [call(g.url, 'POST', '/v1/chat/completions', { key: FREE, body: chatBody() }), call(g.url, 'POST', '/v1/chat/completions', { key: FREE, body: chatBody() })];
    while (held.length < 2) await sleep(5);
    const third = await call(g.url, 'POST', '/v1/chat/completions', { key: FREE, body: chatBody() });
    assert.equal(third.status, 429);
    assert.equal(third.json.error.code, 'rate_limit_exceeded');
    assert.match(third.json.error.message, /concurrent requests: limit 2/);
    const answer = (res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'up-model', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
    };
    for (const res of held) answer(res);
    assert.deepEqual((await Promise.all(first)).map((r) => r.status), [200, 200]);
    up.onChat = (req) => answer(req.res);
    assert.equal((await call(g.url, 'POST', '/v1/chat/completions', { key: FREE, body: chatBody() })).status, 200);
    const m = parseMetrics((await call(g.url, 'GET', '/metrics', { key: FREE })).text);
    assert.equal(metricValue(m, 'adapterpool_key_rate_limited_total', { key: 'conc', reason: 'concurrency' }), 1);
    assert.equal(metricValue(m, 'adapterpool_key_rate_limited_total', { key: 'tok', reason: 'tokens' }), 1);
  });
});

describe('tpm reservations of streams that end badly', () => {
  let up: Upstream;
  let g: Gw;
  before(async () => {
    up = await Upstream.start();
    g = await upstreamKeyedGateway(up, `    - { name: tok, key: "${KEY}", tpm: 100000 }`, 4000);
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  const remaining = async (): Promise<number> => Number((await call(g.url, 'GET', '/v1/models', { key: KEY })).headers.get('x-ratelimit-remaining-tokens'));

  test('regression: a stream the upstream cut mid-way stayed charged its whole reservation (README: an upstream failure gives it back)', async () => {
    up.onChat = (req) => {
      req.res.writeHead(200, { 'content-type': 'text/event-stream' });
      req.res.write(chunkFrame('tok'));
      req.res.write(chunkFrame('en'));
      setTimeout(() => req.res.socket?.destroy(), 20);
    };
    const before = await remaining();
    const r = await call(g.url, 'POST', '/v1/chat/completions', { key: KEY, body: chatBody('hi', { stream: true }) });
    assert.equal(r.status, 200);
    assert.match(r.text, /"error"/, 'the client was told the stream broke');
    await eventuallyEqual(remaining, before);
  });

  test('a stream the client leaves before its usage report stays charged', async () => {
    up.onChat = endlessStream;
    const before = await remaining();
    const ac = new AbortController();
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(chatBody('hi', { stream: true })),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    await sleep(200);
    assert.ok((await remaining()) <= before - 4000, 'the reservation (prompt + defaultMaxTokens) is still charged');
  });

  test('regression: a /v1/messages stream the client left was given its reservation back (the tpm could be dodged by abandoning streams)', async () => {
    up.onChat = endlessStream;
    const before = await remaining();
    const ac = new AbortController();
    const res = await fetch(`${g.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'chat', max_tokens: 3000, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('text_delta')) seen += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    await sleep(200);
    assert.ok((await remaining()) <= before - 3000, 'the reservation (prompt + max_tokens) is still charged');
  });
});

/** An upstream stream that never ends: a chunk every 20 ms until the gateway hangs up. */
function endlessStream(req: Parameters<NonNullable<Upstream['onChat']>>[0]): void {
  req.res.writeHead(200, { 'content-type': 'text/event-stream' });
  req.res.write(chunkFrame('tok'));
  const t = setInterval(() => req.res.write(chunkFrame('more')), 20);
  req.res.on('close', () => clearInterval(t));
}

async function eventuallyEqual(read: () => Promise<number>, want: number): Promise<void> {
  let got = await read();
  for (let i = 0; i < 40 && got !== want; i++) {
    await sleep(25);
    got = await read();
  }
  assert.equal(got, want);
}
