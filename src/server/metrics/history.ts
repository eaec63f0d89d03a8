import { ERROR_ACTIONS, type ErrorClass } from '../../providers/errors.js';
import { LATENCY_BUCKETS, latencyBucket, latencyQuantile } from '../../providers/latency.js';

/**
 * The last few minutes of traffic, in memory, for the dashboard's charts (Prometheus keeps the long
 * history; this is for an operator with no Prometheus at hand). Time is cut in fixed slots
 * (`stepMs` wide, `windowMs / stepMs` of them in a ring); each subject (the gateway as a whole,
 * a model, a deployment) is a `Series` of flat typed arrays indexed by slot. Recording is a few
 * increments in the current slot; slots are zeroed as time moves past them, so memory is fixed
 * once the subjects exist and nothing is allocated per request.
 */

/** Classes of the errors charted and counted: the upstream's (every provider ErrorClass but a client's hang-up) and the gateway's own. */
export const ERROR_CLASSES = [
  ...(Object.keys(ERROR_ACTIONS) as ErrorClass[]).filter((c): c is Exclude<ErrorClass, 'aborted'> => c !== 'aborted'),
  /** Gateway: every deployment down, or busy past the wait. */
  'no_deployment',
  /** Gateway: no adapter from the pool (timeout, queue full, create failed, shutting down). */
  'pool',
  /** Gateway: anything else (a bug). */
  'internal',
] as const;
export type ErrorClassLabel = (typeof ERROR_CLASSES)[number];
const ERROR_INDEX = new Map<string, number>(ERROR_CLASSES.map((c, i) => [c, i]));
export const errorClassIndex = (c: string): number => ERROR_INDEX.get(c) ?? ERROR_INDEX.get('internal')!;

/**
 * Lanes of the requests-by-status chart. 429 is apart from the other 4xx: it is a failure the client
 * did not cause (the upstream's or a deployment's limit). A client key over its own limit is the
 * client's doing: that 429 goes with the other 4xx (`ownLimit`).
 */
export const STATUS_LANES = ['2xx', '4xx', '429', '5xx'] as const;
export type StatusLane = (typeof STATUS_LANES)[number];
const laneOf = (status: number, ownLimit: boolean): number => (status < 300 ? 0 : status === 429 && !ownLimit ? 2 : status < 500 ? 1 : 3);

/**
 * A failure the client did not cause: 5xx or 429 (a 499, the client hanging up, is not; nor is the
 * 429 of a client key over its own rpm / tpm / maxConcurrent, `ownLimit`: the model did nothing wrong).
 */
export const isFailureStatus = (status: number, ownLimit = false): boolean => status >= 500 || (status === 429 && !ownLimit);

const NC = ERROR_CLASSES.length;
const NS = STATUS_LANES.length;
const NB = LATENCY_BUCKETS;

export class Series {
  /** Per slot: requests by status lane. */
  readonly status: Uint32Array;
  /** Per slot: errors by class. */
  readonly errors: Uint32Array;
  /** Per slot: end-to-end request durations (all outcomes). */
  readonly latency: Uint32Array;
  /** Per slot: time to first token of streams. */
  readonly ttft: Uint32Array;
  /** Per slot: prompt and completion tokens. */
  readonly tokens: Float64Array;

  constructor(readonly name: string, slots: number) {
    this.status = new Uint32Array(slots * NS);
    this.errors = new Uint32Array(slots * NC);
    this.latency = new Uint32Array(slots * NB);
    this.ttft = new Uint32Array(slots * NB);
    this.tokens = new Float64Array(slots * 2);
  }

  clear(slot: number): void {
    this.status.fill(0, slot * NS, slot * NS + NS);
    this.errors.fill(0, slot * NC, slot * NC + NC);
    this.latency.fill(0, slot * NB, slot * NB + NB);
    this.ttft.fill(0, slot * NB, slot * NB + NB);
    this.tokens.fill(0, slot * 2, slot * 2 + 2);
  }

  /**
   * A request ended. `ttftMs` < 0: none (not a stream, or no first token); `errorClass` < 0: not a
   * failure; `ownLimit`: a 429 of the client key's own limit (charted with the 4xx).
   */
  request(slot: number, status: number, durationMs: number, ttftMs: number, errorClass: number, promptTokens: number, completionTokens: number, ownLimit = false): void {
    this.status[slot * NS + laneOf(status, ownLimit)]!++;
    this.latency[slot * NB + latencyBucket(durationMs)]!++;
    if (ttftMs >= 0) this.ttft[slot * NB + latencyBucket(ttftMs)]!++;
    if (errorClass >= 0) this.errors[slot * NC + errorClass]!++;
    if (promptTokens > 0) this.tokens[slot * 2] += promptTokens;
    if (completionTokens > 0) this.tokens[slot * 2 + 1] += completionTokens;
  }

  /** An upstream call failed (an attempt, not necessarily the request). */
  error(slot: number, errorClass: number): void {
    this.errors[slot * NC + errorClass]!++;
  }
}

export interface HistoryOptions {
  windowMs: number;
  stepMs: number;
  /** Clock (ms since the epoch); tests pass their own. */
  now?: () => number;
}

/** What the dashboard draws for one subject: one value per slot, oldest first, plus totals over the window. */
export interface SeriesView {
  /** Requests per second by status lane. */
  requests_per_s: Record<StatusLane, number[]>;
  /** Errors per second by class (classes seen in the window only). */
  errors_per_s: Partial<Record<ErrorClassLabel, number[]>>;
  latency_p50_ms: Array<number | null>;
  latency_p95_ms: Array<number | null>;
  ttft_p50_ms: Array<number | null>;
  ttft_p95_ms: Array<number | null>;
  tokens_per_s: { prompt: number[]; completion: number[] };
  totals: WindowTotals;
}

export interface WindowTotals {
  requests: number;
  /** 2xx */
  ok: number;
  /** 5xx and 429 (not the client key's own limit): failures that reached the client and were not its fault. */
  failed: number;
  /** failed / requests, 0..1; 0 without requests. */
  error_rate: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
  prompt_tokens: number;
  completion_tokens: number;
  errors: Partial<Record<ErrorClassLabel, number>>;
}

export class History {
  readonly slots: number;
  readonly stepMs: number;
  private readonly now: () => number;
  private readonly series: Series[] = [];
  /** Absolute slot number (time / step) of the ring's current slot. */
  private current: number;

  constructor(opts: HistoryOptions) {
    this.stepMs = Math.max(1, Math.floor(opts.stepMs));
    this.slots = Math.max(2, Math.ceil(opts.windowMs / this.stepMs));
    this.now = opts.now ?? Date.now;
    this.current = Math.floor(this.now() / this.stepMs);
  }

  /** A new subject, charted from now on. */
  add(name: string): Series {
    const s = new Series(name, this.slots);
    this.series.push(s);
    return s;
  }

  /** Ring index of the current slot; slots that time skipped since the last call are zeroed first. */
  slot(): number {
    const abs = Math.floor(this.now() / this.stepMs);
    if (abs !== this.current) this.advance(abs);
    return abs % this.slots;
  }

  private advance(abs: number): void {
    if (abs < this.current) return; // the clock went back: keep writing where we are
    const skipped = Math.min(abs - this.current, this.slots);
    for (let k = 1; k <= skipped; k++) {
      const ring = (abs - skipped + k) % this.slots;
      for (const s of this.series) s.clear(ring);
    }
    this.current = abs;
  }

  /** Slot start times (ms since the epoch), oldest first; the last one is the slot being filled. */
  times(): number[] {
    this.slot();
    const out: number[] = [];
    for (let k = this.slots - 1; k >= 0; k--) out.push((this.current - k) * this.stepMs);
    return out;
  }

  /** The window of one subject, rates per second. */
  view(s: Series): SeriesView {
    this.slot();
    const n = this.slots;
    const order: number[] = [];
    for (let k = n - 1; k >= 0; k--) order.push((this.current - k) % n);
    // Every slot by its full width, the one being filled too: its rate grows as it fills and never
    // drops when it closes, so a line only moves up with new traffic (and down as it leaves the window).
    const step = this.stepMs / 1000;
    const rate = (v: number, _i: number): number => Math.round((v / step) * 1000) / 1000;

    const requests = {} as Record<StatusLane, number[]>;
    STATUS_LANES.forEach((lane, l) => (requests[lane] = order.map((slot, i) => rate(s.status[slot * NS + l]!, i))));
    const errorsPerS: Partial<Record<ErrorClassLabel, number[]>> = {};
    const errorTotals: Partial<Record<ErrorClassLabel, number>> = {};
    ERROR_CLASSES.forEach((c, ci) => {
      let sum = 0;
      for (const slot of order) sum += s.errors[slot * NC + ci]!;
      if (sum === 0) return;
      errorTotals[c] = sum;
      errorsPerS[c] = order.map((slot, i) => rate(s.errors[slot * NC + ci]!, i));
    });
    const q = (arr: Uint32Array, p: number) => order.map((slot) => latencyQuantile(arr, p, slot * NB));
    const latAll = new Float64Array(NB);
    const ttftAll = new Float64Array(NB);
    let requestsTotal = 0;
    let ok = 0;
    let failed = 0;
    let prompt = 0;
    let completion = 0;
    for (const slot of order) {
      for (let b = 0; b < NB; b++) {
        latAll[b] += s.latency[slot * NB + b]!;
        ttftAll[b] += s.ttft[slot * NB + b]!;
      }
      for (let l = 0; l < NS; l++) requestsTotal += s.status[slot * NS + l]!;
      ok += s.status[slot * NS]!;
      failed += s.status[slot * NS + 2]! + s.status[slot * NS + 3]!;
      prompt += s.tokens[slot * 2]!;
      completion += s.tokens[slot * 2 + 1]!;
    }
    return {
      requests_per_s: requests,
      errors_per_s: errorsPerS,
      latency_p50_ms: q(s.latency, 0.5),
      latency_p95_ms: q(s.latency, 0.95),
      ttft_p50_ms: q(s.ttft, 0.5),
      ttft_p95_ms: q(s.ttft, 0.95),
      tokens_per_s: { prompt: order.map((slot, i) => rate(s.tokens[slot * 2]!, i)), completion: order.map((slot, i) => rate(s.tokens[slot * 2 + 1]!, i)) },
      totals: {
        requests: requestsTotal,
        ok,
        failed,
        error_rate: requestsTotal === 0 ? 0 : Math.round((failed / requestsTotal) * 10_000) / 10_000,
        latency_p50_ms: latencyQuantile(latAll, 0.5),
        latency_p95_ms: latencyQuantile(latAll, 0.95),
        ttft_p50_ms: latencyQuantile(ttftAll, 0.5),
        ttft_p95_ms: latencyQuantile(ttftAll, 0.95),
        prompt_tokens: prompt,
        completion_tokens: completion,
        errors: errorTotals,
      },
    };
  }
}
