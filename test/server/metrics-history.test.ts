import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { LATENCY_BOUNDS_MS, latencyBucket, latencyQuantile, LATENCY_BUCKETS } from '../../src/providers/latency.js';
import { PROVIDER_TYPES } from '../../src/providers/registry.js';
import { errorClassIndex, History } from '../../src/server/metrics.js';

/** The dashboard's in-memory history: slots in a ring, zeroed as time passes; latency buckets and their quantiles. */

function clock(start: number): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('dashboard history (ring of time slots)', () => {
  it('records per slot, reports per-second rates oldest first, and forgets what left the window', () => {
    const c = clock(1_000_000_000_000); // on a slot boundary
    const h = new History({ windowMs: 60_000, stepMs: 10_000, now: c.now });
    assert.equal(h.slots, 6);
    const s = h.add('m');
    // 20 requests in the first 10 s: 15 ok, 3 answered 502 (server_error), 2 answered 429.
    for (let i = 0; i < 15; i++) s.request(h.slot(), 200, 100, -1, -1, 10, 20);
    for (let i = 0; i < 3; i++) s.request(h.slot(), 502, 40, -1, errorClassIndex('server_error'), 0, 0);
    for (let i = 0; i < 2; i++) s.request(h.slot(), 429, 5, -1, errorClassIndex('rate_limited'), 0, 0);
    c.advance(10_000);
    s.request(h.slot(), 200, 1000, 250, -1, 0, 0); // a stream, 250 ms to its first token
    c.advance(5_000); // half-way through the newest slot
    const v = h.view(s);
    assert.equal(v.requests_per_s['2xx'].length, 6);
    assert.deepEqual(v.requests_per_s['2xx'].slice(-2), [1.5, 0.1], 'slot before: 15 / 10 s; the current one, half-way, by its full width too: 1 / 10 s');
    assert.deepEqual(v.requests_per_s['5xx'].slice(-2), [0.3, 0]);
    assert.deepEqual(v.requests_per_s['429'].slice(-2), [0.2, 0]);
    assert.deepEqual(v.errors_per_s.server_error?.slice(-2), [0.3, 0]);
    assert.deepEqual(v.tokens_per_s.prompt.slice(-2), [15, 0]);
    assert.deepEqual(v.tokens_per_s.completion.slice(-2), [30, 0]);
    assert.equal(v.ttft_p50_ms.at(-2), null);
    assert.ok(v.ttft_p50_ms.at(-1)! > 200 && v.ttft_p50_ms.at(-1)! <= 300);
    assert.deepEqual({ requests: v.totals.requests, ok: v.totals.ok, failed: v.totals.failed, error_rate: v.totals.error_rate }, { requests: 21, ok: 16, failed: 5, error_rate: 0.2381 });
    assert.deepEqual(v.totals.errors, { rate_limited: 2, server_error: 3 });
    // 21 durations: 2 × 5 ms, 3 × 40 ms, 15 × 100 ms, 1 × 1 s: p50 and p95 in the (75, 100] bucket, p99 in the 1 s one.
    assert.ok(v.totals.latency_p50_ms! > 75 && v.totals.latency_p50_ms! <= 100, String(v.totals.latency_p50_ms));
    assert.ok(v.totals.latency_p95_ms! > v.totals.latency_p50_ms! && v.totals.latency_p95_ms! <= 100, String(v.totals.latency_p95_ms));
    assert.ok(v.latency_p95_ms.at(-1)! > 750 && v.latency_p95_ms.at(-1)! <= 1000, 'the newest slot holds the 1 s request alone');
    const times = h.times();
    assert.equal(times.length, 6);
    assert.equal(times[5], 1_000_000_010_000, 'the newest slot started at the last step');
    assert.equal(times[5]! - times[4]!, 10_000);

    // 55 s later the first slot has left the 60 s window; the second is still in it.
    c.advance(45_000);
    const later = h.view(s);
    assert.equal(later.totals.requests, 1);
    assert.deepEqual(later.totals.errors, {});
    // Much later: nothing left, and the slot written again starts from zero.
    c.advance(3_600_000);
    assert.equal(h.view(s).totals.requests, 0);
    s.request(h.slot(), 200, 10, -1, -1, 0, 0);
    assert.equal(h.view(s).totals.requests, 1);
  });

  it('a clock that goes back keeps writing in the current slot', () => {
    const c = clock(2_000_000_000_000);
    const h = new History({ windowMs: 30_000, stepMs: 5_000, now: c.now });
    const s = h.add('x');
    s.request(h.slot(), 200, 10, -1, -1, 0, 0);
    c.advance(-20_000);
    s.request(h.slot(), 200, 10, -1, -1, 0, 0);
    assert.equal(h.view(s).totals.requests, 2);
  });
});

describe('latency buckets', () => {
  it('bucket bounds are inclusive; quantiles interpolate inside the bucket; empty is null', () => {
    assert.equal(latencyBucket(0), 0);
    assert.equal(latencyBucket(1), 0);
    assert.equal(latencyBucket(1.01), 1);
    assert.equal(latencyBucket(300_001), LATENCY_BOUNDS_MS.length, 'overflow bucket');
    const counts = new Uint32Array(LATENCY_BUCKETS);
    assert.equal(latencyQuantile(counts, 0.5), null);
    for (let i = 0; i < 100; i++) counts[latencyBucket(i < 90 ? 12 : 400)]!++;
    const p50 = latencyQuantile(counts, 0.5)!;
    assert.ok(p50 > 10 && p50 <= 15, String(p50));
    const p95 = latencyQuantile(counts, 0.95)!;
    assert.ok(p95 > 300 && p95 <= 500, String(p95));
  });
});

describe('config: metrics.history and metrics.historyStep', () => {
  const yaml = (metrics: string) => `
metrics: ${metrics}
providers: { m: { type: mock } }
models: { x: { providers: [{ provider: m }] } }
`;
  const parse = (metrics: string) => parseConfig(yaml(metrics), { source: 'h.yaml', env: {}, providerTypes: PROVIDER_TYPES });
  it('default to 15 minutes of 5 s points', () => {
    const c = parse('{}');
    assert.equal(c.metrics.history, 15 * 60_000);
    assert.equal(c.metrics.historyStep, 5_000);
    assert.equal(parse('{ history: 1h, historyStep: 30s }').metrics.history, 3_600_000);
  });
  it('refuse a step under 1 s, a window under two steps, and more than 10000 points', () => {
    assert.throws(() => parse('{ historyStep: 100ms }'), /historyStep must be at least 1s/);
    assert.throws(() => parse('{ history: 5s, historyStep: 5s }'), /history must hold at least two historySteps/);
    assert.throws(() => parse('{ history: 24h, historyStep: 1s }'), /at most 10000 points/);
  });
});
