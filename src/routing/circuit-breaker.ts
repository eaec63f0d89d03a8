/**
 * Per-deployment circuit breaker: closed -> open (on N consecutive failures, or a failure rate over
 * a sliding window) -> after a cooldown, half-open with exactly one probe -> closed on the probe's
 * success, open again on its failure. The clock is injectable for tests.
 */

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  consecutiveFailures: number;
  /** 0..1; the window trigger fires when failures / total exceeds this. */
  failureRate: number;
  windowMs: number;
  /** The window trigger needs at least this many samples. */
  minRequests: number;
  cooldownMs: number;
  now?: () => number;
  /** Called on every state change. */
  onStateChange?: (to: CircuitState, from: CircuitState) => void;
}

/** What `tryAcquire` grants. */
export const Permit = {
  Denied: 0,
  Normal: 1,
  /** The single half-open probe: its outcome decides the circuit. */
  Probe: 2,
} as const;
export type Permit = (typeof Permit)[keyof typeof Permit];

const BUCKETS = 10;

export class CircuitBreaker {
  private _state: CircuitState = 'closed';
  private consecutive = 0;
  private openedAt = 0;
  /** Open until this time; then the next request is let through as the probe. */
  private reopenAt = 0;
  private probeInFlight = false;
  private opts: CircuitBreakerOptions;
  private readonly now: () => number;
  private bucketMs: number;
  // Sliding window as a ring of time buckets: no allocation per request.
  private readonly bucketStart = new Float64Array(BUCKETS);
  private readonly bucketTotal = new Uint32Array(BUCKETS);
  private readonly bucketFail = new Uint32Array(BUCKETS);

  constructor(opts: CircuitBreakerOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.bucketMs = Math.max(1, opts.windowMs / BUCKETS);
    this.bucketStart.fill(-Infinity);
  }

  /**
   * New thresholds, effective now; the state and counts are kept. A different window starts the
   * window afresh (its buckets are sized by it).
   */
  configure(settings: Pick<CircuitBreakerOptions, 'consecutiveFailures' | 'failureRate' | 'windowMs' | 'minRequests' | 'cooldownMs'>): void {
    const windowChanged = settings.windowMs !== this.opts.windowMs;
    this.opts = { ...this.opts, ...settings };
    if (windowChanged) {
      this.bucketMs = Math.max(1, settings.windowMs / BUCKETS);
      this.bucketStart.fill(-Infinity);
    }
  }

  get state(): CircuitState {
    return this._state;
  }

  get consecutiveFailures(): number {
    return this.consecutive;
  }

  /** When the circuit last opened (ms, clock of `now`), if it is not closed. */
  get openedSince(): number | undefined {
    return this._state === 'closed' ? undefined : this.openedAt;
  }

  /** Whether a request could be let through now (no side effect). */
  canPass(): boolean {
    switch (this._state) {
      case 'closed':
        return true;
      case 'open':
        return this.now() >= this.reopenAt;
      case 'half_open':
        return !this.probeInFlight;
    }
  }

  /** Let a request through, taking the probe slot if the circuit is (due to be) half-open. */
  tryAcquire(): Permit {
    if (this._state === 'closed') return Permit.Normal;
    if (this._state === 'open') {
      if (this.now() < this.reopenAt) return Permit.Denied;
      this.transition('half_open');
    }
    if (this.probeInFlight) return Permit.Denied;
    this.probeInFlight = true;
    return Permit.Probe;
  }

  onSuccess(permit: Permit): void {
    this.record(false);
    if (permit === Permit.Probe) {
      this.probeInFlight = false;
      if (this._state === 'half_open') this.close();
      return;
    }
    // A request let through before the circuit opened says nothing about the deployment now.
    if (this._state === 'closed') this.consecutive = 0;
  }

  onFailure(permit: Permit): void {
    this.record(true);
    if (permit === Permit.Probe) {
      this.probeInFlight = false;
      if (this._state === 'half_open') this.open();
      return;
    }
    if (this._state !== 'closed') return;
    this.consecutive++;
    if (this.consecutive >= this.opts.consecutiveFailures || this.rateTripped()) this.open();
  }

  /** The request ended without saying anything about the deployment (client error, caller abort, busy pool). */
  onNeutral(permit: Permit): void {
    if (permit === Permit.Probe) this.probeInFlight = false;
  }

  /** Open at once (an auth/quota failure, or every adapter of the deployment reported unhealthy). */
  trip(): void {
    if (this._state === 'open') return;
    this.probeInFlight = false;
    this.open();
  }

  /** A health check passed: allow the next request through as a probe without waiting out the cooldown. */
  probeNow(): void {
    if (this._state === 'open') this.reopenAt = this.now();
  }

  /**
   * Open for `ms` on another replica's word (a shared circuit): no probe from here until then.
   * Returns false if already open for at least that long.
   */
  hold(ms: number): boolean {
    const until = this.now() + ms;
    if (this._state === 'open' && this.reopenAt >= until) return false;
    this.probeInFlight = false;
    // Before the transition: its listeners (the circuit_open line) read retryAfterMs().
    this.reopenAt = until;
    if (this._state !== 'open') {
      this.openedAt = this.now();
      this.transition('open');
    }
    return true;
  }

  /** Another replica's probe succeeded: close without a probe of our own. */
  release(): void {
    if (this._state !== 'closed') this.close();
  }

  /** Time until a request can be let through again (0 if it can now). */
  retryAfterMs(): number {
    switch (this._state) {
      case 'closed':
        return 0;
      case 'open':
        return Math.max(0, this.reopenAt - this.now());
      case 'half_open':
        // The probe is out; its outcome is not known yet. Suggest a short wait rather than a cooldown.
        return this.probeInFlight ? Math.min(1000, this.opts.cooldownMs) : 0;
    }
  }

  /** Failure rate over the window (0 when there are no samples). */
  failureRate(): number {
    const { total, failures } = this.windowCounts();
    return total === 0 ? 0 : failures / total;
  }

  windowCounts(): { total: number; failures: number } {
    const since = this.now() - this.opts.windowMs;
    let total = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      if (this.bucketStart[i]! > since) {
        total += this.bucketTotal[i]!;
        failures += this.bucketFail[i]!;
      }
    }
    return { total, failures };
  }

  private rateTripped(): boolean {
    const { total, failures } = this.windowCounts();
    return total >= this.opts.minRequests && failures / total > this.opts.failureRate;
  }

  private record(failed: boolean): void {
    const now = this.now();
    const slot = Math.floor(now / this.bucketMs);
    const i = slot % BUCKETS;
    const start = slot * this.bucketMs;
    if (this.bucketStart[i] !== start) {
      this.bucketStart[i] = start;
      this.bucketTotal[i] = 0;
      this.bucketFail[i] = 0;
    }
    this.bucketTotal[i]!++;
    if (failed) this.bucketFail[i]!++;
  }

  private open(): void {
    const now = this.now();
    this.openedAt = now;
    this.reopenAt = now + this.opts.cooldownMs;
    this.transition('open');
  }

  private close(): void {
    this.consecutive = 0;
    // Start the window afresh: the failures that opened the circuit must not re-open it at once.
    this.bucketStart.fill(-Infinity);
    this.transition('closed');
  }

  private transition(to: CircuitState): void {
    const from = this._state;
    if (from === to) return;
    this._state = to;
    this.opts.onStateChange?.(to, from);
  }
}
