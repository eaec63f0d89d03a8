import assert from 'node:assert/strict';
import type { Upstream } from '../server/helpers.js';
import { chunkFrame } from '../server/helpers.js';
import type { UsageRow } from '../../src/usage/index.js';

/**
 * 1,000 mixed requests against a gateway whose only upstream is `up`: completions with and without
 * usage, streams with usage, upstream failures, and clients that hang up mid-stream. The upstream
 * records, per request, the usage it reported (null: none), so the ledger can be checked against it.
 */

export const KINDS = ['ok', 'stream', 'fail', 'hangup', 'nousage'] as const;
type Kind = (typeof KINDS)[number];

export interface Reported {
  prompt: number;
  completion: number;
}

export function mixedUpstream(up: Upstream): Map<number, Reported | null> {
  const reported = new Map<number, Reported | null>();
  up.onChat = (req) => {
    const m = /^n=(\d+) kind=(\w+)$/.exec(String(req.body?.messages?.[0]?.content));
    if (m === null) {
      req.res.writeHead(400).end();
      return;
    }
    const n = Number(m[1]);
    const kind = m[2] as Kind;
    const usage = { prompt: (n % 50) + 1, completion: (n % 30) + 1 };
    const usageJson = { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion };
    const res = req.res;
    switch (kind) {
      case 'ok':
      case 'nousage':
        reported.set(n, kind === 'ok' ? usage : null);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: `c${n}`, object: 'chat.completion', created: 1, model: 'up-model', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], ...(kind === 'ok' ? { usage: usageJson } : {}) }));
        return;
      case 'stream':
        reported.set(n, usage);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunkFrame('a'));
        res.write(chunkFrame('b', 'stop'));
        res.write(`data: ${JSON.stringify({ id: `c${n}`, object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: [], usage: usageJson })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      case 'fail':
        reported.set(n, null);
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'boom', type: 'server_error', param: null, code: null } }));
        return;
      case 'hangup':
        // One chunk, then nothing until the client's hang-up reaches us: no usage is ever reported.
        reported.set(n, null);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunkFrame('a'));
        void req.aborted.then(() => res.destroy());
        return;
    }
  };
  return reported;
}

export const MIXED_CONFIG = (upstreamUrl: string, usage: string) => `routing: { maxAttempts: 1, circuitConsecutiveFailures: 1000000, circuitFailureRate: 1 }
pool: { maxPoolSize: 64, minPoolSize: 1 }
usage: ${usage}
providers:
  up: { type: openai-compatible, baseUrl: "${upstreamUrl}", apiKey: "provider-key" }
models:
  chat:
    pricing: { input: 2, output: 8 }
    providers: [{ provider: up, model: up-model }]
`;

async function one(url: string, n: number): Promise<void> {
  const kind = KINDS[n % KINDS.length]!;
  const stream = kind === 'stream' || kind === 'hangup';
  const ac = new AbortController();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': `r-${n}` },
    body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: `n=${n} kind=${kind}` }], stream }),
    signal: ac.signal,
  });
  if (kind === 'hangup') {
    const reader = res.body!.getReader();
    await reader.read(); // the first chunk arrived: hang up
    ac.abort();
    await reader.cancel().catch(() => undefined);
    return;
  }
  await res.text();
  assert.equal(res.status, kind === 'fail' ? 502 : 200, `request ${n} (${kind})`);
}

/** Send `total` requests, `concurrency` at a time. */
export async function sendMixed(url: string, total = 1000, concurrency = 40): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await one(url, next++);
    }),
  );
}

/** Every request has exactly one row, and its tokens are what the upstream reported. */
export function assertRowsMatch(rows: UsageRow[], reported: Map<number, Reported | null>, total = 1000): void {
  assert.equal(rows.length, total, 'one ledger row per request');
  const byId = new Map(rows.map((r) => [r.requestId, r]));
  assert.equal(byId.size, total, 'request ids are unique in the ledger');
  const statuses = new Map<string, number>();
  for (let n = 0; n < total; n++) {
    const row = byId.get(`r-${n}`);
    assert.ok(row, `no row for request ${n}`);
    const kind = KINDS[n % KINDS.length]!;
    const rep = reported.get(n);
    assert.ok(rep !== undefined, `the upstream never saw request ${n}`);
    assert.equal(row.promptTokens, rep?.prompt ?? null, `prompt tokens of ${n} (${kind})`);
    assert.equal(row.completionTokens, rep?.completion ?? null, `completion tokens of ${n} (${kind})`);
    assert.equal(row.totalTokens, rep === null ? null : rep.prompt + rep.completion, `total tokens of ${n} (${kind})`);
    assert.equal(row.cost, rep === null ? null : (rep.prompt * 2 + rep.completion * 8) / 1_000_000);
    assert.equal(row.stream, kind === 'stream' || kind === 'hangup');
    assert.equal(row.model, 'chat');
    assert.equal(row.deployment, kind === 'fail' ? null : 'up-model:up');
    if (row.stream) assert.ok(row.ttftMs !== null && row.ttftMs >= 0 && row.ttftMs <= row.latencyMs + 1);
    statuses.set(kind, row.status);
    const expected = { ok: 200, nousage: 200, stream: 200, fail: 502, hangup: 499 }[kind];
    assert.equal(row.status, expected, `status of ${n} (${kind})`);
    if (kind === 'hangup') assert.equal(row.errorCode, 'client_closed');
    if (kind === 'fail') assert.ok(row.errorCode !== null);
  }
}
