import {
  AcquireAbortedError,
  AcquireTimeoutError,
  CreateFailedError,
  KeyRemovedError,
  NotLeasedError,
  PoolClosedError,
  TooManyWaitersError,
} from './errors.js';
import { poolKey } from './key.js';
import { badTimeout, checkKeyNames, limitsFor, pickLimits, resolvePoolOptions, validateLimits, type ResolvedPoolOptions } from './options.js';
import { keyDetails, keyView, poolStats, poolStatus } from './reports.js';
import { PoolEmitter, type PoolListener } from './events.js';
import { cleanupPass, countCreated, healthCheckPass } from './housekeeping.js';
import type { PoolHost } from './host.js';
import { drainKey, renewAdapters, resizeKey } from './key-changes.js';
import { evictionVictim, liveCount, messageOf, newEntry, newKeyPool, recordCreateFailure, type Entry, type KeyPool, type Waiter } from './state.js';
import { armCreateRetry, armLeakTimer, checkAdapter, closeAdapter, createWithTimeout } from './timers.js';
import { armDeadline, disarmDeadline, rejectAll, removeWaiter, settleWaiter, takeExpired } from './waiters.js';
import type {
  AcquireOptions,
  AdapterDetail,
  AdapterPoolOptions,
  CleanupResult,
  DestroyReason,
  HealthCheckResult,
  KeyState,
  Lease,
  PoolEvents,
  PoolKey,
  PoolLimits,
  PoolLogger,
  PoolStats,
  PoolStatus,
  PooledAdapter,
  ReleaseOptions,
} from './types.js';

/** Promises are immutable: every release can hand back the same settled one. */
const RESOLVED: Promise<void> = Promise.resolve();
/** A streak of failed creates with one message is logged at its start, then at most this often. */
const CREATE_ERROR_LOG_EVERY_MS = 60_000;

/**
 * A keyed pool of adapters: one sub-pool per `model:provider`, bounded per key and in total.
 *
 * Fast path (an adapter is idle): no timer, no allocation beyond the promise the caller awaits.
 * Slow path: the caller queues (FIFO) with a deadline; releases, creates and freed capacity of any
 * key serve the oldest live waiter first.
 */
export class AdapterPool<A extends PooledAdapter> {
  private readonly _opt: ResolvedPoolOptions<A>;
  private readonly _log: PoolLogger;
  private readonly _debug: () => boolean;

  /** model -> provider -> KeyPool: two lookups and no string building on the hot path. */
  private readonly _byModel = new Map<string, Map<string, KeyPool<A>>>();
  private readonly _pools: KeyPool<A>[] = [];
  private readonly _entries = new Map<A, Entry<A>>();
  /** Adapters a close() took from their holders: their late release is accepted once, silently. */
  private readonly _takenFromHolder = new WeakSet<A>();
  /** Adapters existing or being created, across keys. */
  private _count = 0;
  private _nextId = 1;
  private _started = false;
  private _closed = false;
  private _closePromise: Promise<void> | null = null;
  private _cleanupTimer: NodeJS.Timeout | null = null;
  private _healthTimer: NodeJS.Timeout | null = null;
  private _healthRun: Promise<HealthCheckResult> | null = null;
  private _inUseTotal = 0;
  /** The key `_keyPool` found last. */
  private _lastKey: KeyPool<A> | null = null;
  private _onIdle: (() => void) | null = null;
  private readonly _pendingCreates = new Set<Promise<unknown>>();
  private readonly _pendingCloses = new Set<Promise<void>>();
  private readonly _events: PoolEmitter<A>;
  private readonly _host: PoolHost<A>;

  constructor(options: AdapterPoolOptions<A>) {
    this._opt = resolvePoolOptions(options);
    this._log = this._opt.log;
    this._debug = this._opt.debug;
    this._events = new PoolEmitter<A>(this._log);
    this._host = {
      pools: this._pools,
      log: this._log,
      events: this._events,
      healthCheckTimeoutMs: this._opt.healthCheckTimeoutMs,
      maxFailedHealthChecks: this._opt.maxFailedHealthChecks,
      destroy: (e, reason) => this._destroy(e, reason),
      markUnhealthy: (e, error, quiet) => this._markUnhealthy(e, error, quiet),
      dispatch: (kp) => this._dispatch(kp),
      drained: (kp) => this._drained(kp),
    };
  }

  // --- Public API ---

  /** Starts the housekeeping timers and creates the minimum of every configured key. */
  async start(): Promise<void> {
    if (this._closed) throw new PoolClosedError('*');
    if (this._started) return;
    this._started = true;
    this._log.info?.({ event: 'pool_start' }, '🔄 启动适配器池...');
    this._cleanupTimer = setInterval(() => void this.cleanup().catch((e) => this._emitError('*', e)), this._opt.cleanupIntervalMs);
    this._cleanupTimer.unref();
    this._healthTimer = setInterval(() => void this._scheduledHealthCheck().catch((e) => this._emitError('*', e)), this._opt.healthCheckIntervalMs);
    this._healthTimer.unref();
    for (const k of this._opt.startKeys) this._dispatch(this._keyPool(k.model, k.provider));
    await this._settleCreates();
  }

  /** Lends an adapter of `model:provider`, creating one or waiting for one as needed. */
  getAdapter(model: string, provider: string, options?: AcquireOptions): Promise<A> {
    if (this._closed) return Promise.reject(new PoolClosedError(poolKey(model, provider)));
    if (!this._started) void this.start();
    let kp: KeyPool<A>;
    try {
      kp = this._keyPool(model, provider);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const bad = options?.timeoutMs === undefined ? undefined : badTimeout(options.timeoutMs);
    if (bad !== undefined) return Promise.reject(bad);
    // Fast path: someone else queued first means we queue too (FIFO, no barging).
    if (kp.waiters.length === 0 && options?.signal?.aborted !== true) {
      const entry = this._takeIdle(kp);
      if (entry !== null) {
        this._lend(entry);
        if (this._events.hasAcquired) {
          this._events.emit('acquired', { key: kp.key, adapter: entry.adapter, waitedMs: 0, useCount: entry.useCount });
        }
        return Promise.resolve(entry.adapter);
      }
    }
    return this._enqueue(kp, options);
  }

  /** Gives an adapter back. Rejects (changing nothing) if it is not currently lent by this pool for this key. */
  releaseAdapter(adapter: A, model: string, provider: string, options?: ReleaseOptions): Promise<void> {
    const entry = this._entries.get(adapter);
    if (entry === undefined || entry.state !== 'in_use' || entry.kp.keyObj.model !== model || entry.kp.keyObj.provider !== provider) {
      if (entry === undefined && this._takenFromHolder.delete(adapter)) return RESOLVED;
      return Promise.reject(new NotLeasedError(poolKey(model, provider)));
    }
    this._release(entry, options?.healthy === false);
    return RESOLVED;
  }

  /** Runs `fn` with an adapter and always releases it. */
  async withAdapter<T>(model: string, provider: string, fn: (adapter: A) => Promise<T> | T, options?: AcquireOptions): Promise<T> {
    const adapter = await this.getAdapter(model, provider, options);
    try {
      return await fn(adapter);
    } finally {
      await this.releaseAdapter(adapter, model, provider);
    }
  }

  /** `await using lease = await pool.acquire(model, provider)`: released when the scope ends. */
  async acquire(model: string, provider: string, options?: AcquireOptions): Promise<Lease<A>> {
    const adapter = await this.getAdapter(model, provider, options);
    let released = false;
    const release = (): Promise<void> => {
      if (released) return Promise.resolve();
      released = true;
      return this.releaseAdapter(adapter, model, provider);
    };
    return { adapter, model, provider, release, [Symbol.asyncDispose]: release };
  }

  /** Counts of every key (the server formats them for GET /v1/pool/stats). */
  stats(): PoolStats {
    return poolStats(this._pools);
  }

  /** Totals across keys (the server formats them for GET /v1/pool/status). */
  status(): PoolStatus {
    return poolStatus(this._pools, this._opt.maxTotal);
  }

  /** Live view of one key, or undefined if it was never used. Reused object: read it, don't keep it. */
  keyState(model: string, provider: string): KeyState | undefined {
    const kp = this._byModel.get(model)?.get(provider);
    return kp === undefined ? undefined : keyView(kp);
  }

  /** One row per adapter of a key (for `?detail=true`), with the adapter itself for its own counters. */
  details(model: string, provider: string): Array<AdapterDetail & { adapter: A }> {
    return keyDetails(this._byModel.get(model)?.get(provider));
  }

  /** Keys known to the pool, in creation order. */
  keys(): PoolKey[] {
    return this._pools.map((kp) => kp.keyObj);
  }

  /**
   * Removes expired (uses, idle, lifetime) and unhealthy idle adapters, marks expired in-use ones to
   * retire on release, and tops every key back up to its minimum.
   */
  async cleanup(): Promise<CleanupResult> {
    if (this._closed) return { removed: 0, expired: 0, unhealthy: 0, created: 0, pools: {} };
    const madeBefore = new Map(this._pools.map((kp) => [kp, kp.made]));
    const result = cleanupPass(this._host, Date.now());
    await this._settleCreates();
    countCreated(result, this._pools, madeBefore);
    return result;
  }

  /**
   * Checks every idle and unhealthy adapter (never one in use): failures are marked unhealthy and not
   * lent, unhealthy ones that pass are put back, ones that keep failing are replaced.
   */
  healthCheck(): Promise<HealthCheckResult> {
    // One run at a time: the periodic timer and a manual POST share the same run.
    if (this._healthRun === null) {
      this._healthRun = this._runHealthCheck()
        .then((result) => {
          this._events.emit('healthCheck', { result });
          return result;
        })
        .finally(() => {
          this._healthRun = null;
        });
    }
    return this._healthRun;
  }

  /** The timer's round: skipped when the gate (e.g. another replica holding the health-check lock) says no. */
  private async _scheduledHealthCheck(): Promise<void> {
    const gate = this._opt.scheduledHealthCheckGate;
    if (gate !== undefined && !(await gate())) return;
    await this.healthCheck();
  }

  /**
   * Stops timers, rejects waiters and new calls, waits for lent adapters up to `closeTimeoutMs`,
   * then closes every adapter. Idempotent.
   */
  close(): Promise<void> {
    if (this._closePromise === null) this._closePromise = this._close();
    return this._closePromise;
  }

  /**
   * Adds a key at runtime (live config) and creates its minimum. `limits`, if given, replace the
   * key's own overrides (see `setKeyOptions`). A key that is still draining cannot come back yet.
   */
  addKey(key: PoolKey, limits?: Partial<PoolLimits>): void {
    const { model, provider } = key;
    const name = poolKey(model, provider);
    if (this._closed) throw new PoolClosedError(name);
    if (this._byModel.get(model)?.get(provider)?.drain) throw new KeyRemovedError(name);
    if (limits !== undefined) this.setKeyOptions(model, provider, limits);
    this._keyPool(model, provider);
  }

  /**
   * Removes a key: its waiters are rejected with KeyRemovedError, it lends nothing more, idle
   * adapters close now and lent ones when they come back. Resolves once every adapter is closed.
   */
  removeKey(model: string, provider: string): Promise<void> {
    const kp = this._byModel.get(model)?.get(provider);
    if (kp === undefined) return RESOLVED;
    if (kp.drain === null) this._opt.keyOptions.delete(kp.key);
    return drainKey(this._host, kp);
  }

  /**
   * Replaces one key's own limits (the pool-wide defaults fill the rest), live. A smaller
   * maxPoolSize closes idle (then unhealthy) adapters at once and lent ones as they come back,
   * never one in use; a larger minPoolSize creates the difference; a new maxLifetime is measured
   * from each adapter's creation, the existing ones included.
   */
  setKeyOptions(model: string, provider: string, limits: Partial<PoolLimits>): void {
    const key = poolKey(model, provider);
    const own = pickLimits(limits);
    const next = validateLimits(`AdapterPool setKeyOptions("${key}")`, { ...this._opt.defaults, ...own });
    this._opt.keyOptions.set(key, own);
    const kp = this._byModel.get(model)?.get(provider);
    if (kp === undefined || kp.drain !== null) return;
    resizeKey(this._host, kp, next);
  }

  /**
   * Replaces every adapter of a key (live config: its provider's settings changed): idle and
   * unhealthy ones close now, lent ones when they come back, a create already under way is closed
   * on arrival; the replacements come from `createAdapter`, which the caller has pointed at the
   * new settings. The key keeps serving throughout.
   */
  renewKey(model: string, provider: string): void {
    const kp = this._byModel.get(model)?.get(provider);
    if (kp === undefined || kp.drain !== null || this._closed) return;
    renewAdapters(this._host, kp);
  }

  get closed(): boolean {
    return this._closed;
  }

  on<E extends keyof PoolEvents<A>>(event: E, fn: PoolListener<A, E>): this {
    this._events.on(event, fn);
    return this;
  }

  off<E extends keyof PoolEvents<A>>(event: E, fn: PoolListener<A, E>): this {
    this._events.off(event, fn);
    return this;
  }

  // --- Lending ---

  private _keyPool(model: string, provider: string): KeyPool<A> {
    // The key of the last call, again (a burst of one deployment's requests): no map lookups. A key
    // being removed is never served from here (its lookups decide, as before).
    const last = this._lastKey;
    if (last !== null && last.drain === null && last.keyObj.model === model && last.keyObj.provider === provider) return last;
    let kp = this._byModel.get(model)?.get(provider);
    if (kp === undefined) {
      // Checked where a key is first seen, not on every loan: a missing argument made a pool "undefined:undefined".
      checkKeyNames(model, provider);
      let byProvider = this._byModel.get(model);
      if (byProvider === undefined) {
        byProvider = new Map();
        this._byModel.set(model, byProvider);
      }
      const key = poolKey(model, provider);
      kp = newKeyPool<A>(key, Object.freeze({ model, provider }), this._limitsFor(key));
      byProvider.set(provider, kp);
      this._pools.push(kp);
      this._log.info?.({ event: 'pool_key_init', key }, `🔧 初始化适配器池: ${key}`);
      this._dispatch(kp);
    }
    this._lastKey = kp;
    return kp;
  }

  private _limitsFor(key: string): PoolLimits {
    return limitsFor(this._opt.defaults, this._opt.keyOptions, key);
  }

  /**
   * Pops the most recently released adapter. Expiry is decided at release and by cleanup, so the
   * lending path reads no clock.
   */
  private _takeIdle(kp: KeyPool<A>): Entry<A> | null {
    return kp.idle.length > 0 ? kp.idle.pop()! : null;
  }

  private _lend(e: Entry<A>): void {
    e.state = 'in_use';
    e.useCount++;
    e.kp.inUse++;
    this._inUseTotal++;
    if (this._opt.leakDetectionMs > 0) {
      armLeakTimer(e, this._opt.leakDetectionMs, (heldMs, stack) => {
        this._log.warn?.({ event: 'adapter_leak_suspected', key: e.kp.key, adapter: e.id, heldMs, stack }, `⚠️ 适配器可能泄漏: ${e.kp.key} (已持有 ${heldMs} ms)`);
        this._events.emit('leak', { key: e.kp.key, adapter: e.adapter, heldMs, stack });
      });
    }
    if (this._debug()) this._log.debug!({ event: 'adapter_acquired', key: e.kp.key, adapter: e.id }, `🔄 从池中获取适配器: ${e.kp.key} (使用次数: ${e.useCount})`);
  }

  private _release(e: Entry<A>, broken: boolean): void {
    const kp = e.kp;
    this._unlend(e);
    let unstamped = false;
    if (this._debug()) this._log.debug!({ event: 'adapter_released', key: kp.key, adapter: e.id }, `🔄 释放适配器回池: ${kp.key} (使用次数: ${e.useCount})`);
    if (this._closed) {
      this._destroy(e, 'closed');
    } else if (kp.drain !== null) {
      this._destroy(e, 'removed');
    } else if (broken) {
      this._markUnhealthy(e, new Error('reported broken by its holder'));
    } else {
      // Lifetime is judged by cleanup (it marks `retire`), so releasing reads the clock only to park the adapter.
      const reason = e.retire ?? (e.useCount >= kp.limits.maxUses ? 'expired_uses' : null);
      if (reason !== null) this._destroy(e, reason);
      else if (kp.entries.length - kp.closing > kp.limits.maxPoolSize) this._destroy(e, 'resized'); // its key was shrunk while it was lent
      else {
        e.state = 'idle';
        kp.idle.push(e);
        // Its idle time starts now, unless a waiter takes it at once (below): no clock read per hand-over.
        if (kp.waiters.length === 0) e.lastUsedAt = Date.now();
        else unstamped = true;
      }
    }
    // Listeners see the adapter where it went (idle, unhealthy, closing), before a waiter takes it.
    if (this._events.hasReleased) this._events.emit('released', { key: kp.key, adapter: e.adapter, useCount: e.useCount });
    const serving = !this._closed && kp.drain === null;
    // The oldest waiter gets it (no barging by a newcomer), or a replacement is made.
    if (serving && (e.state !== 'idle' || kp.waiters.length > 0)) this._dispatch(kp);
    // Still idle (a listener took the waiters away): its idle time starts now after all.
    if (unstamped && e.state === 'idle') e.lastUsedAt = Date.now();
    // At maxTotal, a waiter of another key may need this room: its dispatch evicts for it.
    if (serving && this._count >= this._opt.maxTotal) this._onCapacityFreed();
    if (this._inUseTotal === 0 && this._onIdle !== null) this._onIdle();
  }

  private _enqueue(kp: KeyPool<A>, options: AcquireOptions | undefined): Promise<A> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new AcquireAbortedError(kp.key, signal.reason));
    if (kp.drain !== null) return Promise.reject(new KeyRemovedError(kp.key));
    let timeoutMs = options?.timeoutMs ?? kp.limits.acquireTimeoutMs;
    // Creation is failing and its retry is pending: a caller that asked not to wait learns why at
    // once; one that may wait queues for that retry and is served by it within its deadline.
    if (timeoutMs === 0 && this._opt.propagateCreateError && kp.retryTimer !== null && kp.idle.length === 0) {
      return Promise.reject(new CreateFailedError(kp.key, kp.lastCreateError));
    }
    const canCreate = this._hasRoom(kp) || this._canEvictFor(kp);
    if (timeoutMs === 0) {
      // 0 = don't queue behind a full pool; a create still gets the normal deadline (the create's own
      // timeout when the key's acquireTimeoutMs is 0 too: a 0 deadline timed out every create).
      if (!canCreate) return Promise.reject(new AcquireTimeoutError(kp.key, 0));
      timeoutMs = kp.limits.acquireTimeoutMs > 0 ? kp.limits.acquireTimeoutMs : this._opt.createTimeoutMs;
    }
    if (!canCreate) {
      if (kp.waiters.length >= this._opt.maxWaiters) return Promise.reject(new TooManyWaitersError(kp.key, this._opt.maxWaiters));
    }
    return new Promise<A>((resolve, reject) => {
      const now = Date.now();
      const w: Waiter<A> = { kp, enqueuedAt: now, timeoutMs, deadline: now + timeoutMs, resolve, reject, signal, onAbort: null };
      if (w.deadline < kp.deadlineAt) armDeadline(kp, w.deadline, now, this._sweepDeadlines);
      if (signal !== undefined) {
        w.onAbort = () => this._abortWaiter(w);
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      kp.waiters.push(w);
      // A full pool with nothing idle has nothing to dispatch (the next release serves this waiter),
      // unless an unhealthy adapter holds room that a replacement could use.
      if (canCreate || kp.idle.length > 0 || kp.unhealthy > 0) this._dispatch(kp);
    });
  }

  /** Gives `e` (already lent with `_lend`) to waiter `w`, which has been removed from the queue. */
  private _serve(w: Waiter<A>, e: Entry<A>): void {
    settleWaiter(w);
    if (this._events.hasAcquired) {
      this._events.emit('acquired', { key: e.kp.key, adapter: e.adapter, waitedMs: Date.now() - w.enqueuedAt, useCount: e.useCount });
    }
    w.resolve(e.adapter);
  }

  /** Rejects every waiter whose deadline passed and re-arms for the next one. */
  private readonly _sweepDeadlines = (kp: KeyPool<A>): void => {
    kp.deadlineTimer = null;
    kp.deadlineAt = Infinity;
    const now = Date.now();
    const { expired, next } = takeExpired(kp, now);
    if (next !== Infinity) armDeadline(kp, next, now, this._sweepDeadlines);
    for (const w of expired) this._expireWaiter(w, now);
  };

  private _expireWaiter(w: Waiter<A>, now: number): void {
    settleWaiter(w);
    const kp = w.kp;
    const waitedMs = now - w.enqueuedAt;
    this._events.emit('timeout', { key: kp.key, waitedMs });
    // Creation failing while this caller waited (or still failing) explains the wait better than a bare timeout.
    if (kp.createFailures > 0 && (kp.lastCreateErrorAt >= w.enqueuedAt || kp.retryTimer !== null)) {
      w.reject(new CreateFailedError(kp.key, kp.lastCreateError));
    } else {
      this._log.warn?.({ event: 'acquire_timeout', key: kp.key, waitedMs }, `⏳ 获取适配器超时: ${kp.key} (${w.timeoutMs} ms)`);
      w.reject(new AcquireTimeoutError(kp.key, w.timeoutMs));
    }
  }

  private _abortWaiter(w: Waiter<A>): void {
    w.onAbort = null;
    if (removeWaiter(w)) w.reject(new AcquireAbortedError(w.kp.key, w.signal?.reason));
  }

  // --- Capacity: creating, evicting, destroying ---

  /** Serves waiters from idle adapters, then starts the creates this key needs and may have. */
  private _dispatch(kp: KeyPool<A>): void {
    if (this._closed || kp.drain !== null) return;
    while (kp.waiters.length > 0) {
      const e = this._takeIdle(kp);
      if (e === null) break;
      this._lend(e);
      this._serve(kp.waiters.shift()!, e);
    }
    if (kp.retryTimer !== null) return;
    // A full key with nothing unhealthy (the busy steady state): nothing to create, close or evict.
    if (kp.unhealthy === 0 && !this._roomInKey(kp)) return;
    let needed = Math.max(kp.waiters.length - kp.creating, kp.limits.minPoolSize - liveCount(kp) - kp.creating);
    while (needed > 0 && this._hasRoom(kp)) {
      this._create(kp);
      needed--;
    }
    // A full key whose room is held by unhealthy adapters: its waiters would wait for the next cleanup
    // or health check (a minute or more) though nothing healthy can be lent. Close one unhealthy adapter
    // per waiter not yet provided for; its close frees the room, and a (checked) replacement follows.
    let stuck = kp.waiters.length - kp.creating - kp.closing;
    if (stuck > 0 && kp.unhealthy > 0 && !this._roomInKey(kp)) {
      for (const e of [...kp.entries]) {
        if (stuck === 0) break;
        if (e.state !== 'unhealthy') continue;
        this._destroy(e, 'unhealthy');
        stuck--;
      }
    }
    // At maxTotal, real demand (not the minimum) may close another key's idle adapter to make room.
    if (kp.waiters.length > kp.creating && this._roomInKey(kp) && this._count >= this._opt.maxTotal) this._evictFor(kp);
  }

  private _roomInKey(kp: KeyPool<A>): boolean {
    return kp.entries.length + kp.creating < kp.limits.maxPoolSize;
  }

  private _hasRoom(kp: KeyPool<A>): boolean {
    return this._roomInKey(kp) && this._count < this._opt.maxTotal;
  }

  private _canEvictFor(kp: KeyPool<A>): boolean {
    if (!this._roomInKey(kp)) return false;
    for (const other of this._pools) if (other !== kp && other.idle.length > 0) return true;
    return false;
  }

  /** Closes the least recently used idle adapter of another key (commons-pool2 POOL-310). */
  private _evictFor(kp: KeyPool<A>): void {
    const victim = evictionVictim(this._pools, kp);
    if (victim !== null) this._destroy(victim, 'evicted');
  }

  private _create(kp: KeyPool<A>): void {
    kp.creating++;
    this._count++;
    const check = kp.suspect;
    const generation = kp.generation;
    const onLate = (adapter: A): void => {
      this._log.warn?.({ event: 'adapter_create_late', key: kp.key }, `createAdapter for ${kp.key} finished after its timeout; closing it`);
      void closeAdapter(adapter).catch(() => {});
      this._events.emit('destroyed', { key: kp.key, adapter, reason: 'late_create' });
    };
    const done = createWithTimeout(() => this._opt.createAdapter(kp.keyObj), this._opt.createTimeoutMs, onLate)
      .then(async (adapter) => {
        // A key whose adapter failed a check gets new adapters checked before they are lent.
        const failure = check && !this._closed ? await checkAdapter(adapter, this._opt.healthCheckTimeoutMs) : undefined;
        if (failure !== undefined) {
          void closeAdapter(adapter).catch(() => {});
          // The check's reason goes with it: after the first failed request it is all an operator sees.
          throw new Error(`new adapter failed its health check: ${failure.message}`, { cause: failure });
        }
        return adapter;
      })
      .then(
        (adapter) => this._created(kp, adapter, generation),
        (error: unknown) => this._createFailed(kp, error),
      )
      .finally(() => this._pendingCreates.delete(done));
    this._pendingCreates.add(done);
  }

  private readonly _retryCreates = (kp: KeyPool<A>): void => this._dispatch(kp);

  private _created(kp: KeyPool<A>, adapter: A, generation: number): void {
    kp.creating--;
    if (kp.createFailures > 0) {
      this._log.info?.({ event: 'adapter_create_recovered', key: kp.key, failures: kp.createFailures }, `✅ 适配器创建恢复: ${kp.key}（此前连续失败 ${kp.createFailures} 次）`);
      kp.createFailures = 0;
    }
    if (this._closed || kp.drain !== null) {
      this._count--;
      void closeAdapter(adapter).catch(() => {});
      this._drained(kp);
      return;
    }
    if (generation !== kp.generation) {
      // Made with the settings renewKey replaced: never lent; make another in its place.
      this._count--;
      void closeAdapter(adapter).catch(() => {});
      this._events.emit('destroyed', { key: kp.key, adapter, reason: 'renewed' });
      this._dispatch(kp);
      return;
    }
    const e = newEntry(kp, adapter, this._nextId++, Date.now());
    kp.made++;
    kp.entries.push(e);
    this._entries.set(adapter, e);
    kp.idle.push(e);
    this._log.info?.({ event: 'adapter_created', key: kp.key, adapter: e.id }, `✅ 创建适配器成功: ${kp.key}`);
    this._events.emit('created', { key: kp.key, adapter });
    this._dispatch(kp);
  }

  private _createFailed(kp: KeyPool<A>, error: unknown): void {
    kp.creating--;
    this._count--;
    if (this._closed || kp.drain !== null) {
      this._drained(kp);
      return;
    }
    const err = error instanceof Error ? error : new Error(String(error));
    if (recordCreateFailure(kp, error, err.message, Date.now(), CREATE_ERROR_LOG_EVERY_MS)) {
      this._log.error?.({ event: 'adapter_create_failed', key: kp.key, failures: kp.createFailures, err: { message: err.message } }, `❌ 创建适配器失败: ${kp.key}: ${err.message}`);
    }
    this._events.emit('createFailed', { key: kp.key, error: err });
    if (this._opt.propagateCreateError && kp.waiters.length > kp.creating) {
      const w = kp.waiters.shift()!;
      settleWaiter(w);
      w.reject(new CreateFailedError(kp.key, error));
    }
    armCreateRetry(kp, this._opt.createRetryInitialMs, this._opt.createRetryMaxMs, this._retryCreates);
    this._onCapacityFreed();
  }

  /** Closes an adapter that nobody holds. It counts toward the limits until its close finishes. */
  private _destroy(e: Entry<A>, reason: DestroyReason): void {
    if (e.state === 'closing') return;
    const kp = e.kp;
    if (e.state === 'idle') {
      const i = kp.idle.indexOf(e);
      if (i >= 0) kp.idle.splice(i, 1);
    } else if (e.state === 'unhealthy') {
      kp.unhealthy--;
    }
    e.state = 'closing';
    kp.closing++;
    this._entries.delete(e.adapter);
    const finish = (): void => {
      const i = kp.entries.indexOf(e);
      if (i >= 0) kp.entries.splice(i, 1);
      kp.closing--;
      this._count--;
      this._events.emit('destroyed', { key: kp.key, adapter: e.adapter, reason });
      this._drained(kp);
      this._onCapacityFreed();
      // Waiters first, then this key's minimum: cleanup and health checks of a full pool ask for
      // their replacements before the closes free any room. Not after an eviction, whose room was
      // taken for another key's waiter.
      if (reason !== 'evicted') this._dispatch(kp);
    };
    const done = closeAdapter(e.adapter, this._opt.closeTimeoutMs).then(finish, (err: unknown) => {
      this._emitError(kp.key, err);
      finish();
    });
    this._pendingCloses.add(done);
    void done.finally(() => this._pendingCloses.delete(done));
  }

  /** A removed key whose last adapter closed leaves the pool, and its `removeKey()` resolves. */
  private _drained(kp: KeyPool<A>): void {
    if (kp.drain === null || kp.entries.length > 0 || kp.creating > 0) return;
    const byProvider = this._byModel.get(kp.keyObj.model);
    if (byProvider?.get(kp.keyObj.provider) === kp) {
      byProvider.delete(kp.keyObj.provider);
      if (byProvider.size === 0) this._byModel.delete(kp.keyObj.model);
    }
    const i = this._pools.indexOf(kp);
    if (i >= 0) this._pools.splice(i, 1);
    if (this._lastKey === kp) this._lastKey = null;
    this._log.info?.({ event: 'pool_key_removed', key: kp.key }, `🗑️ 适配器池已移除: ${kp.key}`);
    kp.drain.resolve();
  }

  /** Freed capacity serves the waiting keys, oldest waiter first. */
  private _onCapacityFreed(): void {
    if (this._closed) return;
    let waiting: KeyPool<A>[] | null = null;
    for (const kp of this._pools) {
      // And a key below its minimum: cleanup asked for it before this room was free.
      if (kp.waiters.length > kp.creating || (kp.idle.length > 0 && kp.waiters.length > 0) || liveCount(kp) + kp.creating < kp.limits.minPoolSize) (waiting ??= []).push(kp);
    }
    if (waiting === null) return;
    waiting.sort((a, b) => (a.waiters.peek()?.enqueuedAt ?? Infinity) - (b.waiters.peek()?.enqueuedAt ?? Infinity) || 0);
    for (const kp of waiting) this._dispatch(kp);
  }

  // --- Health ---

  private async _runHealthCheck(): Promise<HealthCheckResult> {
    if (this._closed) return { checked: 0, healthy: 0, unhealthy: 0, recovered: 0, replaced: 0, skipped_in_use: 0, pools: {} };
    const result = await healthCheckPass(this._host);
    await this._settleCreates();
    return result;
  }

  private _markUnhealthy(e: Entry<A>, error?: unknown, quiet = false): void {
    const kp = e.kp;
    const i = kp.idle.indexOf(e);
    if (i >= 0) kp.idle.splice(i, 1);
    if (e.state !== 'unhealthy') kp.unhealthy++;
    e.state = 'unhealthy';
    kp.suspect = true;
    if (!quiet) {
      const fields: Record<string, unknown> = { event: 'adapter_unhealthy', key: kp.key, adapter: e.id };
      if (error !== undefined) fields.reason = messageOf(error);
      this._log.warn?.(fields, `💔 适配器不健康: ${kp.key}`);
      this._events.emit('unhealthy', { key: kp.key, adapter: e.adapter, error });
    }
  }

  // --- Shutdown, events, helpers ---

  private async _close(): Promise<void> {
    this._closed = true;
    if (this._cleanupTimer !== null) clearInterval(this._cleanupTimer);
    if (this._healthTimer !== null) clearInterval(this._healthTimer);
    this._cleanupTimer = this._healthTimer = null;
    for (const kp of this._pools) {
      if (kp.retryTimer !== null) clearTimeout(kp.retryTimer);
      kp.retryTimer = null;
      if (kp.deadlineTimer !== null) disarmDeadline(kp);
      rejectAll(kp, new PoolClosedError(kp.key));
      for (const e of kp.idle.splice(0)) this._destroy(e, 'closed');
      for (const e of [...kp.entries]) if (e.state === 'unhealthy') this._destroy(e, 'closed');
    }
    if (this._inUseTotal > 0) {
      let timer: NodeJS.Timeout | null = null;
      await new Promise<void>((resolve) => {
        this._onIdle = resolve;
        timer = setTimeout(resolve, this._opt.closeTimeoutMs);
      });
      this._onIdle = null;
      if (timer !== null) clearTimeout(timer);
    }
    await this._settleCreates();
    // Whatever is still lent after the deadline is closed under its holder: shutdown wins.
    for (const kp of this._pools) {
      for (const e of [...kp.entries]) {
        if (e.state === 'in_use') this._takeFromHolder(e);
        if (e.state !== 'closing') this._destroy(e, 'closed');
      }
    }
    while (this._pendingCloses.size > 0) await Promise.allSettled([...this._pendingCloses]);
  }

  /**
   * A lent adapter that close() closes under its holder: no longer counted in use, and the holder's
   * later release is not its mistake, so it is taken once, quietly.
   */
  private _takeFromHolder(e: Entry<A>): void {
    this._unlend(e);
    this._takenFromHolder.add(e.adapter);
  }

  /** Undoes `_lend`'s counts and leak timer; the caller decides where the adapter goes. */
  private _unlend(e: Entry<A>): void {
    e.kp.inUse--;
    this._inUseTotal--;
    if (e.leakTimer !== null) clearTimeout(e.leakTimer);
    e.leakTimer = null;
  }

  private async _settleCreates(): Promise<void> {
    while (this._pendingCreates.size > 0) await Promise.allSettled([...this._pendingCreates]);
  }

  private _emitError(key: string, error: unknown): void {
    this._log.error?.({ event: 'pool_error', key, err: error }, `adapter pool error: ${key}`);
    this._events.emit('error', { key, error });
  }
}
