import { RateLimiterMemory, type RateLimiterAbstract, type RateLimiterRes } from 'rate-limiter-flexible';
import type { Admission, LimitReason, LimitStatus, LimitWindow, Limiter, RateLimits, Reservation } from './types.js';

/**
 * `Limiter` over rate-limiter-flexible: one fixed window per subject, starting with the subject's
 * first request in it (the library's algorithm). Requests and tokens are two counters;
 * `maxConcurrent` is a plain in-flight count. A counter only counts (its own `points` is never
 * reached): the limit is compared here, at each request, so a limit changed by a reload applies to
 * the window under way instead of starting a fresh one.
 *
 * The store is pluggable through `createCounter`: the default is `RateLimiterMemory` (this process
 * only); a shared limiter can pass e.g. `(o) => new RateLimiterRedis({ storeClient, ...o })`, which
 * has the same consume / reward / penalty / get API. Concurrency has its own port for the same reason.
 */

/** What `createCounter` gets: the library's own option names. */
export interface CounterOptions {
  /** The counter's own limit: `FlexibleLimiter` passes one never reached and compares the count with the subject's rpm or tpm itself. */
  points: number;
  /** Window length in seconds (fractions allowed). */
  duration: number;
  /** Distinguishes counters of different kinds and sizes in a shared store. */
  keyPrefix: string;
}

/** In-flight counts per subject. */
export interface ConcurrencyStore {
  /** Take a slot if fewer than `max` are taken; false when full. */
  tryAcquire(subject: string, max: number): boolean;
  release(subject: string): void;
}

export interface FlexibleLimiterOptions {
  /** Length of the rpm / tpm window. Default 60 s; tests shorten it. */
  windowMs?: number;
  createCounter?: (o: CounterOptions) => RateLimiterAbstract;
  concurrency?: ConcurrencyStore;
  /** Retry-After suggested when only `maxConcurrent` is in the way (nothing says when a slot frees). */
  concurrencyRetryAfterMs?: number;
}

export const DEFAULT_WINDOW_MS = 60_000;
const DEFAULT_CONCURRENCY_RETRY_MS = 1000;

/** In-process in-flight counts. */
export class MemoryConcurrency implements ConcurrencyStore {
  private readonly counts = new Map<string, number>();
  tryAcquire(subject: string, max: number): boolean {
    const n = this.counts.get(subject) ?? 0;
    if (n >= max) return false;
    this.counts.set(subject, n + 1);
    return true;
  }
  release(subject: string): void {
    const n = this.counts.get(subject) ?? 0;
    if (n <= 1) this.counts.delete(subject);
    else this.counts.set(subject, n - 1);
  }
  /** In flight for `subject` (for tests and stats). */
  inFlight(subject: string): number {
    return this.counts.get(subject) ?? 0;
  }
}

export class FlexibleLimiter implements Limiter {
  readonly windowMs: number;
  private readonly createCounter: (o: CounterOptions) => RateLimiterAbstract;
  readonly concurrency: ConcurrencyStore;
  private readonly concurrencyRetryAfterMs: number;
  /** One counter per kind and size (subjects are keys inside it). */
  private readonly counters = new Map<string, RateLimiterAbstract>();

  constructor(opts: FlexibleLimiterOptions = {}) {
    this.windowMs = opts.windowMs ?? DEFAULT_WINDOW_MS;
    this.createCounter = opts.createCounter ?? ((o) => new RateLimiterMemory(o));
    this.concurrency = opts.concurrency ?? new MemoryConcurrency();
    this.concurrencyRetryAfterMs = opts.concurrencyRetryAfterMs ?? DEFAULT_CONCURRENCY_RETRY_MS;
  }

  async admit(subject: string, limits: RateLimits, tokens: number): Promise<Admission> {
    const { rpm, tpm, maxConcurrent } = limits;
    // Taken synchronously, before any await, so concurrent admits cannot all see a free slot.
    if (maxConcurrent !== undefined && !this.concurrency.tryAcquire(subject, maxConcurrent)) {
      return { ok: false, reason: 'concurrency', retryAfterMs: this.concurrencyRetryAfterMs, status: await this.peek(subject, limits) };
    }
    const release = () => {
      if (maxConcurrent !== undefined) this.concurrency.release(subject);
    };
    const rpmCounter = rpm === undefined ? undefined : this.counter('rpm');
    const tpmCounter = tpm === undefined ? undefined : this.counter('tpm');
    // More than the whole window's budget could never pass: reserve the budget (the window still
    // admits it once, and the usage correction charges what it really used).
    const reserved = tpm === undefined ? 0 : Math.max(0, Math.min(Math.ceil(tokens), tpm));
    // Both counters at once: against a shared store (Redis, auto-pipelined) that is one round trip, not two.
    const [r, t] = await Promise.allSettled([rpmCounter?.consume(subject, 1), tpmCounter?.consume(subject, reserved)]);
    // A counter whose store failed: give back what the other took, and fail the request.
    if (r.status === 'rejected' || t.status === 'rejected') {
      release();
      if (rpmCounter !== undefined && r.status === 'fulfilled') void rpmCounter.reward(subject, 1).catch(() => undefined);
      if (tpmCounter !== undefined && t.status === 'fulfilled') void tpmCounter.reward(subject, reserved).catch(() => undefined);
      throw r.status === 'rejected' ? r.reason : (t as PromiseRejectedResult).reason;
    }
    const rpmRefused = r.value !== undefined && r.value.consumedPoints > rpm!;
    const tpmRefused = t.value !== undefined && t.value.consumedPoints > tpm!;
    if (rpmRefused || tpmRefused) {
      release();
      // A refused request is not counted: give back what each counter took.
      if (rpmCounter !== undefined) void rpmCounter.reward(subject, 1).catch(() => undefined);
      if (tpmCounter !== undefined) void tpmCounter.reward(subject, reserved).catch(() => undefined);
      const status: { requests?: LimitWindow; tokens?: LimitWindow } = {};
      if (r.value !== undefined) status.requests = window(rpm!, r.value, 1);
      if (t.value !== undefined) status.tokens = window(tpm!, t.value, reserved);
      const res = rpmRefused ? r.value! : t.value!;
      return refused(rpmRefused ? 'requests' : 'tokens', res.msBeforeNext, status);
    }
    const requests = r.value === undefined ? undefined : window(rpm!, r.value, 0);
    const tokensWindow = t.value === undefined ? undefined : window(tpm!, t.value, 0);
    const windowEnd = t.value === undefined ? 0 : Date.now() + t.value.msBeforeNext;
    const status: LimitStatus = requests === undefined ? (tokensWindow === undefined ? {} : { tokens: tokensWindow }) : tokensWindow === undefined ? { requests } : { requests, tokens: tokensWindow };
    let settled = false;
    const reservation: Reservation = {
      status,
      reservedTokens: reserved,
      settle: (used) => {
        if (settled) return;
        settled = true;
        release();
        if (tpmCounter === undefined || used === undefined) return;
        const diff = Math.ceil(used) - reserved;
        // Within the reservation's window: move the count to what was used. After it (a long
        // stream), that window is gone; only tokens beyond the reservation still count, in the new one.
        if (diff < 0 && Date.now() < windowEnd) void tpmCounter.reward(subject, -diff).catch(() => undefined);
        else if (diff > 0) void tpmCounter.penalty(subject, diff).catch(() => undefined);
      },
    };
    return { ok: true, reservation };
  }

  async peek(subject: string, limits: RateLimits): Promise<LimitStatus> {
    const out: { requests?: LimitWindow; tokens?: LimitWindow } = {};
    if (limits.rpm !== undefined) out.requests = await this.peekOne(this.counter('rpm'), limits.rpm, subject);
    if (limits.tpm !== undefined) out.tokens = await this.peekOne(this.counter('tpm'), limits.tpm, subject);
    return out;
  }

  close(): void {
    this.counters.clear();
  }

  private async peekOne(counter: RateLimiterAbstract, limit: number, subject: string): Promise<LimitWindow> {
    const res = await counter.get(subject);
    if (res === null || res.msBeforeNext <= 0) return { limit, remaining: limit, resetMs: 0 };
    return { limit, remaining: clamp(limit - res.consumedPoints, limit), resetMs: res.msBeforeNext };
  }

  /**
   * Start `subject`'s window of `kind` with `points` already counted, ending in `ms` (a shared limiter
   * falling back here carries over what the fleet's window under way already took).
   */
  async preset(subject: string, kind: 'rpm' | 'tpm', points: number, ms: number): Promise<void> {
    await this.counter(kind).set(subject, points, ms / 1000);
  }

  /** One counter per kind, whatever the limits: a subject keeps its count when its limit changes. */
  private counter(kind: 'rpm' | 'tpm'): RateLimiterAbstract {
    let c = this.counters.get(kind);
    if (c === undefined) {
      c = this.createCounter({ points: COUNT_ONLY, duration: this.windowMs / 1000, keyPrefix: `ap-${kind}` });
      this.counters.set(kind, c);
    }
    return c;
  }
}

/** A counter's own limit, never reached: `admit` compares the count with the subject's limit itself. */
const COUNT_ONLY = Number.MAX_SAFE_INTEGER;

/** The window after a consume; `givenBack`: points of that consume returned (a refused request). */
function window(limit: number, res: RateLimiterRes, givenBack: number): LimitWindow {
  return { limit, remaining: clamp(limit - (res.consumedPoints - givenBack), limit), resetMs: Math.max(0, res.msBeforeNext) };
}

function clamp(n: number, limit: number): number {
  return Math.max(0, Math.min(limit, n));
}

function refused(reason: LimitReason, retryAfterMs: number, status: LimitStatus): Admission {
  return { ok: false, reason, retryAfterMs: Math.max(1, retryAfterMs), status };
}
