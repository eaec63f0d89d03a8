import {
  AcquireAbortedError,
  AcquireTimeoutError,
  CreateFailedError,
  NotLeasedError,
  PoolClosedError,
  TooManyWaitersError,
} from './errors.js';
import type {
  AcquireOptions,
  AdapterDetail,
  AdapterPoolOptions,
  AdapterState,
  CleanupResult,
  DestroyReason,
  HealthCheckResult,
  PoolEvents,
  PoolKey,
  PoolLimits,
  PoolLogger,
  PoolStats,
  PoolStatsEntry,
  PoolStatus,
  PooledAdapter,
} from './types.js';

// ---------------------------------------------------------------------------------------------
// Defaults. Every limit has a name here and in the README.
// ---------------------------------------------------------------------------------------------

export const DEFAULT_POOL_LIMITS: Readonly<PoolLimits> = {
  maxPoolSize: 10,
  minPoolSize: 2,
  acquireTimeoutMs: 30_000,
  maxUses: Infinity,
  idleTimeoutMs: 600_000,
  maxLifetimeMs: 1_800_000,
};

const DEFAULTS = {
  maxTotal: Infinity,
  maxWaiters: Infinity,
  cleanupIntervalMs: 60_000,
  healthCheckIntervalMs: 300_000,
  healthCheckTimeoutMs: 5_000,
  maxFailedHealthChecks: 3,
  leakDetectionMs: 0,
  createTimeoutMs: 30_000,
  createRetryInitialMs: 100,
  createRetryMaxMs: 5_000,
  propagateCreateError: true,
  closeTimeoutMs: 10_000,
};

/** Promises are immutable: every release can hand back the same settled one. */
const RESOLVED: Promise<void> = Promise.resolve();

/** HikariCP subtracts up to 2.5 % of the lifetime so adapters created together don't expire together. */
const LIFETIME_JITTER = 0.025;

const OPTION_NAMES = new Set([
  'createAdapter', 'maxPoolSize', 'minPoolSize', 'maxTotal', 'acquireTimeoutMs', 'maxWaiters',
  'cleanupIntervalMs', 'healthCheckIntervalMs', 'healthCheckTimeoutMs', 'maxFailedHealthChecks',
  'maxUses', 'idleTimeoutMs', 'maxLifetimeMs', 'leakDetectionMs', 'createTimeoutMs',
  'createRetryInitialMs', 'createRetryMaxMs', 'propagateCreateError', 'closeTimeoutMs', 'keys',
  'keyOptions', 'logger',
]);

// ---------------------------------------------------------------------------------------------
// Internal state: one Entry per adapter, one KeyPool per model:provider, one Waiter per queued caller.
// ---------------------------------------------------------------------------------------------

interface Entry<A> {
  readonly adapter: A;
  readonly id: number;
  readonly kp: KeyPool<A>;
  state: AdapterState;
  useCount: number;
  readonly createdAt: number;
  /** Last acquire or release, ms since epoch; 0 = never used. */
  lastUsedAt: number;
  /** Recomputed when the key's maxLifetime changes (a reloaded config). */
  expiresAt: number;
  /** Marked to be retired when its holder releases it (soft eviction). */
  retire: DestroyReason | null;
  failedChecks: number;
  leakTimer: NodeJS.Timeout | null;
}

interface Waiter<A> {
  readonly kp: KeyPool<A>;
  readonly enqueuedAt: number;
  readonly timeoutMs: number;
  /** enqueuedAt + timeoutMs; one sweep timer per key serves every waiter's deadline. */
  readonly deadline: number;
  resolve: (adapter: A) => void;
  reject: (error: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
}

interface KeyPool<A> {
  readonly key: string;
  readonly keyObj: PoolKey;
  /** Replaced whole by `setKeyLimits` (a reloaded config). */
  limits: PoolLimits;
  /** Every adapter that exists, closing ones included (they still hold a connection). */
  readonly entries: Entry<A>[];
  /** Available adapters, a stack: the most recently released is lent first so spare ones idle out. */
  readonly idle: Entry<A>[];
  readonly waiters: Waiter<A>[];
  creating: number;
  closing: number;
  inUse: number;
  /** Adapters in state 'unhealthy', kept as a count: the router reads it on every request. */
  unhealthy: number;
  /** Consecutive failed creates; drives the backoff. */
  createFailures: number;
  lastCreateError: unknown;
  lastCreateErrorAt: number;
  retryTimer: NodeJS.Timeout | null;
  /**
   * One timer per key for the earliest waiter deadline instead of one per waiter: arming and
   * clearing a timer per acquire costs more than the pool's own bookkeeping.
   */
  deadlineTimer: NodeJS.Timeout | null;
  deadlineAt: number;
  /** An adapter of this key failed a health check: new adapters are checked before they are lent. */
  suspect: boolean;
  /** Bumped by `renewKey`: an adapter whose create started before it is stale and closed on arrival. */
  generation: number;
  /** Set by `removeKey`: lends nothing more, closes adapters as they come back, then calls `onEmpty`. */
  removed: boolean;
  onEmpty: (() => void) | null;
  readonly view: KeyState;
}

/** Cheap live view of one key for routing decisions. The object is reused: read it, don't keep it. */
export interface KeyState {
  total: number;
  available: number;
  inUse: number;
  unhealthy: number;
  creating: number;
  waiting: number;
  maxPoolSize: number;
}

export interface Lease<A> {
  readonly adapter: A;
  readonly model: string;
  readonly provider: string;
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface ReleaseOptions {
  /** The holder saw the adapter fail in a way that says it is broken (bad key, no quota): stop lending it. */
  healthy?: boolean;
}

type Listener<A, E extends keyof PoolEvents<A>> = (payload: PoolEvents<A>[E]) => void;

export function poolKey(model: string, provider: string): string {
  return `${model}:${provider}`;
}

/**
 * A keyed pool of adapters: one sub-pool per `model:provider`, bounded per key and in total.
 *
 * Fast path (an adapter is idle): no timer, no allocation beyond the promise the caller awaits.
 * Slow path: the caller queues (FIFO) with a deadline; releases, creates and freed capacity of any
 * key serve the oldest live waiter first.
 */
export class AdapterPool<A extends PooledAdapter> {
  private readonly _createAdapter: (key: PoolKey) => Promise<A>;
  private readonly _defaults: PoolLimits;
  /** Per-key overrides; `addKey` / `setKeyLimits` update them so a key made again gets its latest limits. */
  private readonly _keyOptions: Record<string, Partial<PoolLimits>>;
  private readonly _maxTotal: number;
  private readonly _maxWaiters: number;
  private readonly _cleanupIntervalMs: number;
  private readonly _healthCheckIntervalMs: number;
  private readonly _healthCheckTimeoutMs: number;
  private readonly _maxFailedHealthChecks: number;
  private readonly _leakDetectionMs: number;
  private readonly _createTimeoutMs: number;
  private readonly _createRetryInitialMs: number;
  private readonly _createRetryMaxMs: number;
  private readonly _propagateCreateError: boolean;
  private readonly _closeTimeoutMs: number;
  private readonly _startKeys: readonly PoolKey[];
  private readonly _log: PoolLogger;
  private readonly _debug: boolean;

  /** model -> provider -> KeyPool: two lookups and no string building on the hot path. */
  private readonly _byModel = new Map<string, Map<string, KeyPool<A>>>();
  private readonly _pools: KeyPool<A>[] = [];
  /** Keys being drained by `removeKey` (out of `_pools`; still closed by `close()`). */
  private readonly _removing = new Set<KeyPool<A>>();
  private readonly _entries = new Map<A, Entry<A>>();
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
  private _onIdle: (() => void) | null = null;
  private readonly _pendingCreates = new Set<Promise<unknown>>();
  private readonly _pendingCloses = new Set<Promise<void>>();
  private readonly _listeners: { [E in keyof PoolEvents<A>]?: Array<Listener<A, E>> } = {};

  constructor(options: AdapterPoolOptions<A>) {
    if (options === null || typeof options !== 'object') throw new TypeError('AdapterPool: options must be an object');
    for (const name of Object.keys(options)) {
      if (!OPTION_NAMES.has(name)) throw new TypeError(`AdapterPool: unknown option "${name}"`);
    }
    if (typeof options.createAdapter !== 'function') {
      throw new TypeError('AdapterPool: createAdapter must be a function ({ model, provider }) => Promise<adapter>');
    }
    this._createAdapter = options.createAdapter;
    this._defaults = validateLimits('AdapterPool', { ...DEFAULT_POOL_LIMITS, ...pickLimits(options) });
    this._keyOptions = { ...options.keyOptions };
    for (const [key, limits] of Object.entries(this._keyOptions)) {
      validateLimits(`AdapterPool keyOptions["${key}"]`, { ...this._defaults, ...limits });
    }
    this._maxTotal = count('maxTotal', options.maxTotal ?? DEFAULTS.maxTotal, 1);
    this._maxWaiters = count('maxWaiters', options.maxWaiters ?? DEFAULTS.maxWaiters, 0);
    this._cleanupIntervalMs = duration('cleanupIntervalMs', options.cleanupIntervalMs ?? DEFAULTS.cleanupIntervalMs, 1);
    this._healthCheckIntervalMs = duration('healthCheckIntervalMs', options.healthCheckIntervalMs ?? DEFAULTS.healthCheckIntervalMs, 1);
    this._healthCheckTimeoutMs = duration('healthCheckTimeoutMs', options.healthCheckTimeoutMs ?? DEFAULTS.healthCheckTimeoutMs, 1);
    this._maxFailedHealthChecks = count('maxFailedHealthChecks', options.maxFailedHealthChecks ?? DEFAULTS.maxFailedHealthChecks, 1);
    this._leakDetectionMs = duration('leakDetectionMs', options.leakDetectionMs ?? DEFAULTS.leakDetectionMs, 0);
    this._createTimeoutMs = duration('createTimeoutMs', options.createTimeoutMs ?? DEFAULTS.createTimeoutMs, 1);
    this._createRetryInitialMs = duration('createRetryInitialMs', options.createRetryInitialMs ?? DEFAULTS.createRetryInitialMs, 1);
    this._createRetryMaxMs = duration('createRetryMaxMs', options.createRetryMaxMs ?? DEFAULTS.createRetryMaxMs, this._createRetryInitialMs);
    this._propagateCreateError = options.propagateCreateError ?? DEFAULTS.propagateCreateError;
    this._closeTimeoutMs = duration('closeTimeoutMs', options.closeTimeoutMs ?? DEFAULTS.closeTimeoutMs, 0);
    this._startKeys = options.keys ?? [];
    for (const k of this._startKeys) {
      if (!k || typeof k.model !== 'string' || typeof k.provider !== 'string') {
        throw new TypeError('AdapterPool: keys must be { model: string, provider: string } objects');
      }
    }
    if (this._maxTotal !== Infinity) {
      const minSum = this._startKeys.reduce((s, k) => s + this._limitsFor(poolKey(k.model, k.provider)).minPoolSize, 0);
      if (minSum > this._maxTotal) {
        throw new RangeError(`AdapterPool: the minPoolSize of the configured keys (${minSum}) exceeds maxTotal (${this._maxTotal})`);
      }
    }
    this._log = options.logger ?? {};
    const lg = this._log as PoolLogger & { isLevelEnabled?: (level: string) => boolean };
    this._debug = typeof lg.isLevelEnabled === 'function' ? lg.isLevelEnabled('debug') : typeof lg.debug === 'function';
  }

  // -------------------------------------------------------------------------------------------
  // Public API
  // -------------------------------------------------------------------------------------------

  /** Starts the housekeeping timers and creates the minimum of every configured key. */
  async start(): Promise<void> {
    if (this._closed) throw new PoolClosedError('*');
    if (this._started) return;
    this._started = true;
    this._log.info?.({}, '🔄 启动适配器池...');
    this._cleanupTimer = setInterval(() => void this.cleanup().catch((e) => this._emitError('*', e)), this._cleanupIntervalMs);
    this._cleanupTimer.unref();
    this._healthTimer = setInterval(() => void this.healthCheck().catch((e) => this._emitError('*', e)), this._healthCheckIntervalMs);
    this._healthTimer.unref();
    for (const k of this._startKeys) this._dispatch(this._keyPool(k.model, k.provider));
    await this._settleCreates();
  }

  /** Lends an adapter of `model:provider`, creating one or waiting for one as needed. */
  getAdapter(model: string, provider: string, options?: AcquireOptions): Promise<A> {
    if (this._closed) return Promise.reject(new PoolClosedError(poolKey(model, provider)));
    if (!this._started) void this.start();
    const kp = this._keyPool(model, provider);
    // Fast path: someone else queued first means we queue too (FIFO, no barging).
    if (kp.waiters.length === 0 && options?.signal?.aborted !== true) {
      const entry = this._takeIdle(kp);
      if (entry !== null) {
        this._lend(entry);
        if (this._listeners.acquired !== undefined) {
          this._emit('acquired', { key: kp.key, adapter: entry.adapter, waitedMs: 0, useCount: entry.useCount });
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

  /** The `data` object of GET /v1/pool/stats. */
  stats(): PoolStats {
    const pools: Record<string, PoolStatsEntry> = {};
    for (const kp of this._pools) pools[kp.key] = this._entryStats(kp);
    return { total_pools: this._pools.length, pools };
  }

  /** The `data` object of GET /v1/pool/status. */
  status(): PoolStatus {
    let total = 0;
    let available = 0;
    let inUse = 0;
    let unhealthy = 0;
    let waiting = 0;
    for (const kp of this._pools) {
      const s = this._entryStats(kp);
      total += s.total;
      available += s.available;
      inUse += s.in_use;
      unhealthy += s.unhealthy;
      waiting += s.waiting;
    }
    return {
      total_pools: this._pools.length,
      total_adapters: total,
      available_adapters: available,
      in_use_adapters: inUse,
      unhealthy_adapters: unhealthy,
      utilization_rate: rate(inUse, total, 0),
      health_rate: rate(total - unhealthy, total, 100),
      waiting,
      max_total: this._maxTotal === Infinity ? null : this._maxTotal,
    };
  }

  /** Live view of one key, or undefined if it was never used. Reused object: read it, don't keep it. */
  keyState(model: string, provider: string): KeyState | undefined {
    const kp = this._byModel.get(model)?.get(provider);
    if (kp === undefined) return undefined;
    const v = kp.view;
    v.total = kp.entries.length - kp.closing;
    v.available = kp.idle.length;
    v.inUse = kp.inUse;
    v.unhealthy = kp.unhealthy;
    v.creating = kp.creating;
    v.waiting = kp.waiters.length;
    return v;
  }

  /** One row per adapter of a key (for `?detail=true`), with the adapter itself for its own counters. */
  details(model: string, provider: string): Array<AdapterDetail & { adapter: A }> {
    const kp = this._byModel.get(model)?.get(provider);
    if (kp === undefined) return [];
    const now = Date.now();
    return kp.entries
      .filter((e) => e.state !== 'closing')
      .map((e) => ({
        adapter: e.adapter,
        id: e.id,
        state: e.state,
        use_count: e.useCount,
        created_at: e.createdAt,
        last_used_at: e.lastUsedAt === 0 ? null : e.lastUsedAt,
        expired: this._expiry(e, now) !== null,
      }));
  }

  // -------------------------------------------------------------------------------------------
  // Live reconfiguration (a reloaded config): keys added, resized, renewed and removed while lending.
  // -------------------------------------------------------------------------------------------

  /**
   * Make sure `key` exists with `limits` (merged over the pool's defaults) and has its minimum; resolves
   * once the creates it started have finished. A key that exists just takes the limits.
   */
  async addKey(key: PoolKey, limits: Partial<PoolLimits> = {}): Promise<void> {
    if (this._closed) throw new PoolClosedError(poolKey(key.model, key.provider));
    const existing = this._byModel.get(key.model)?.get(key.provider);
    if (existing !== undefined) {
      this.setKeyLimits(key, limits);
      return;
    }
    const k = poolKey(key.model, key.provider);
    validateLimits(`AdapterPool.addKey("${k}")`, { ...this._defaults, ...pickLimits(limits) });
    this._keyOptions[k] = pickLimits(limits);
    const pending = this._pendingCreates.size;
    this._keyPool(key.model, key.provider);
    if (this._pendingCreates.size > pending) await Promise.allSettled([...this._pendingCreates]);
  }

  /**
   * New limits for a live key. Adapters that are still valid stay: a smaller maxPoolSize closes idle
   * adapters at once (oldest first) and lent ones as they come back, never one in use; a larger
   * minimum or maximum creates or serves waiters at once; maxUses and maxLifetime apply to the
   * adapters already there (ones past them retire: idle now, lent ones on release).
   */
  setKeyLimits(key: PoolKey, limits: Partial<PoolLimits>): void {
    const k = poolKey(key.model, key.provider);
    const merged = validateLimits(`AdapterPool.setKeyLimits("${k}")`, { ...this._defaults, ...pickLimits(limits) });
    this._keyOptions[k] = pickLimits(limits);
    const kp = this._byModel.get(key.model)?.get(key.provider);
    if (kp === undefined || kp.removed) return;
    const old = kp.limits;
    kp.limits = merged;
    kp.view.maxPoolSize = merged.maxPoolSize;
    const now = Date.now();
    if (merged.maxLifetimeMs !== old.maxLifetimeMs) {
      for (const e of kp.entries) {
        const life = merged.maxLifetimeMs;
        e.expiresAt = life === Infinity ? Infinity : e.createdAt + life - Math.random() * life * LIFETIME_JITTER;
      }
    }
    // Expired by the new maxUses / maxLifetime: idle ones close now, lent ones retire on release.
    for (const e of [...kp.entries]) {
      const reason = e.state === 'closing' ? null : this._expiry(e, now);
      if (reason === null) continue;
      if (e.state === 'idle') this._destroy(e, reason);
      else if (e.retire === null) e.retire = reason;
    }
    // Over the new maximum: idle adapters first, oldest first; lent ones close on release (see _release).
    let excess = this._liveCount(kp) - merged.maxPoolSize;
    while (excess > 0 && kp.idle.length > 0) {
      this._destroy(kp.idle[0]!, 'resized');
      excess--;
    }
    if (excess !== 0 || merged.minPoolSize !== old.minPoolSize || merged.maxPoolSize !== old.maxPoolSize) {
      this._log.info?.({ key: k, maxPoolSize: merged.maxPoolSize, minPoolSize: merged.minPoolSize }, `🔧 适配器池限制已更新: ${k}`);
    }
    this._dispatch(kp);
    this._onCapacityFreed();
  }

  /**
   * Replace every adapter of `key` (its provider settings changed): idle and unhealthy ones close now,
   * lent ones when released, creates already under way are discarded; new ones come from `createAdapter`.
   */
  renewKey(key: PoolKey): void {
    const kp = this._byModel.get(key.model)?.get(key.provider);
    if (kp === undefined || kp.removed || this._closed) return;
    kp.generation++;
    for (const e of [...kp.entries]) {
      if (e.state === 'idle' || e.state === 'unhealthy') this._destroy(e, 'renewed');
      else if (e.state !== 'closing') e.retire = 'renewed';
    }
    this._log.info?.({ key: kp.key }, `🔄 适配器池更新: ${kp.key} (新适配器使用新的设置)`);
    this._dispatch(kp);
  }

  /**
   * Remove `key`: it lends nothing more (queued callers are rejected with PoolClosedError), idle
   * adapters close now, lent ones when released. Resolves when every adapter of the key is closed.
   * A later `getAdapter` / `addKey` for the same key starts a new, empty one.
   */
  removeKey(key: PoolKey): Promise<void> {
    const kp = this._byModel.get(key.model)?.get(key.provider);
    if (kp === undefined || kp.removed) return Promise.resolve();
    kp.removed = true;
    this._byModel.get(key.model)!.delete(key.provider);
    if (this._byModel.get(key.model)!.size === 0) this._byModel.delete(key.model);
    this._pools.splice(this._pools.indexOf(kp), 1);
    this._removing.add(kp);
    delete this._keyOptions[kp.key];
    if (kp.retryTimer !== null) clearTimeout(kp.retryTimer);
    kp.retryTimer = null;
    if (kp.deadlineTimer !== null) this._disarmDeadline(kp);
    for (const w of kp.waiters.splice(0)) {
      this._settleWaiter(w);
      w.reject(new PoolClosedError(kp.key));
    }
    const done = new Promise<void>((resolve) => {
      kp.onEmpty = resolve;
    });
    for (const e of [...kp.entries]) if (e.state === 'idle' || e.state === 'unhealthy') this._destroy(e, 'removed');
    this._checkEmpty(kp);
    return done;
  }

  private _checkEmpty(kp: KeyPool<A>): void {
    if (kp.entries.length > 0 || kp.creating > 0 || kp.onEmpty === null) return;
    this._removing.delete(kp);
    const fn = kp.onEmpty;
    kp.onEmpty = null;
    fn();
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
    const result: CleanupResult = { removed: 0, expired: 0, unhealthy: 0, created: 0, pools: {} };
    if (this._closed) return result;
    const now = Date.now();
    for (const kp of this._pools) {
      let removed = 0;
      // Oldest idle first (bottom of the stack), and never below the minimum for idleness alone.
      for (let i = 0; i < kp.idle.length; ) {
        const e = kp.idle[i]!;
        let reason = this._expiry(e, now);
        if (reason === null && now - (e.lastUsedAt || e.createdAt) > kp.limits.idleTimeoutMs && this._liveCount(kp) > kp.limits.minPoolSize) {
          reason = 'expired_idle';
        }
        if (reason === null) {
          i++;
          continue;
        }
        kp.idle.splice(i, 1);
        this._destroy(e, reason);
        removed++;
        result.expired++;
      }
      for (const e of kp.entries) {
        if (e.state === 'unhealthy') {
          kp.suspect = true;
          this._destroy(e, 'unhealthy');
          removed++;
          result.unhealthy++;
        } else if (e.state === 'in_use' && e.retire === null) {
          e.retire = this._expiry(e, now);
        }
      }
      const before = kp.creating;
      this._dispatch(kp);
      const created = kp.creating - before;
      result.removed += removed;
      result.created += created;
      result.pools[kp.key] = { removed, created };
    }
    if (result.removed > 0) this._log.info?.({ removed: result.removed }, `🧹 清理了 ${result.removed} 个过期适配器`);
    else this._log.debug?.({ removed: 0 }, '🧹 清理了 0 个过期适配器');
    await this._settleCreates();
    return result;
  }

  /**
   * Checks every idle and unhealthy adapter (never one in use): failures are marked unhealthy and not
   * lent, unhealthy ones that pass are put back, ones that keep failing are replaced.
   */
  healthCheck(): Promise<HealthCheckResult> {
    // One run at a time: the periodic timer and a manual POST share the same run.
    if (this._healthRun === null) {
      this._healthRun = this._runHealthCheck().finally(() => {
        this._healthRun = null;
      });
    }
    return this._healthRun;
  }

  /**
   * Stops timers, rejects waiters and new calls, waits for lent adapters up to `closeTimeoutMs`,
   * then closes every adapter. Idempotent.
   */
  close(): Promise<void> {
    if (this._closePromise === null) this._closePromise = this._close();
    return this._closePromise;
  }

  get closed(): boolean {
    return this._closed;
  }

  on<E extends keyof PoolEvents<A>>(event: E, fn: Listener<A, E>): this {
    const list = (this._listeners[event] ??= []) as Array<Listener<A, E>>;
    list.push(fn);
    return this;
  }

  off<E extends keyof PoolEvents<A>>(event: E, fn: Listener<A, E>): this {
    const list = this._listeners[event] as Array<Listener<A, E>> | undefined;
    const i = list ? list.indexOf(fn) : -1;
    if (i >= 0) list!.splice(i, 1);
    return this;
  }

  // -------------------------------------------------------------------------------------------
  // Lending
  // -------------------------------------------------------------------------------------------

  private _keyPool(model: string, provider: string): KeyPool<A> {
    let byProvider = this._byModel.get(model);
    if (byProvider === undefined) {
      byProvider = new Map();
      this._byModel.set(model, byProvider);
    }
    let kp = byProvider.get(provider);
    if (kp === undefined) {
      const key = poolKey(model, provider);
      const limits = this._limitsFor(key);
      kp = {
        key,
        keyObj: Object.freeze({ model, provider }),
        limits,
        entries: [],
        idle: [],
        waiters: [],
        creating: 0,
        closing: 0,
        inUse: 0,
        unhealthy: 0,
        createFailures: 0,
        lastCreateError: undefined,
        lastCreateErrorAt: 0,
        retryTimer: null,
        deadlineTimer: null,
        deadlineAt: Infinity,
        suspect: false,
        generation: 0,
        removed: false,
        onEmpty: null,
        view: { total: 0, available: 0, inUse: 0, unhealthy: 0, creating: 0, waiting: 0, maxPoolSize: limits.maxPoolSize },
      };
      byProvider.set(provider, kp);
      this._pools.push(kp);
      this._log.info?.({ key }, `🔧 初始化适配器池: ${key}`);
      this._dispatch(kp);
    }
    return kp;
  }

  private _limitsFor(key: string): PoolLimits {
    const o = this._keyOptions[key];
    return o === undefined ? this._defaults : { ...this._defaults, ...pickLimits(o) };
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
    if (this._leakDetectionMs > 0) this._armLeakTimer(e);
    if (this._debug) this._log.debug!({ key: e.kp.key, adapter: e.id }, `🔄 从池中获取适配器: ${e.kp.key} (使用次数: ${e.useCount})`);
  }

  private _release(e: Entry<A>, broken: boolean): void {
    const kp = e.kp;
    kp.inUse--;
    this._inUseTotal--;
    if (e.leakTimer !== null) {
      clearTimeout(e.leakTimer);
      e.leakTimer = null;
    }
    if (this._debug) this._log.debug!({ key: kp.key, adapter: e.id }, `🔄 释放适配器回池: ${kp.key} (使用次数: ${e.useCount})`);
    if (this._listeners.released !== undefined) this._emit('released', { key: kp.key, adapter: e.adapter, useCount: e.useCount });
    if (this._closed || kp.removed) {
      this._destroy(e, this._closed ? 'closed' : 'removed');
    } else if (broken) {
      this._markUnhealthy(e, new Error('reported broken by its holder'));
      this._dispatch(kp);
    } else {
      // Lifetime is judged by cleanup (it marks `retire`), so releasing reads the clock only to park the adapter.
      const reason = e.retire ?? (e.useCount >= kp.limits.maxUses ? 'expired_uses' : kp.entries.length - kp.closing > kp.limits.maxPoolSize ? 'resized' : null);
      if (reason !== null) {
        this._destroy(e, reason);
        this._dispatch(kp);
      } else if (kp.waiters.length > 0) {
        // Hand it straight to the oldest waiter (no barging by a newcomer).
        this._lend(e);
        this._serve(kp.waiters.shift()!, e);
      } else {
        e.state = 'idle';
        e.lastUsedAt = Date.now();
        kp.idle.push(e);
      }
    }
    if (this._inUseTotal === 0 && this._onIdle !== null) this._onIdle();
  }

  private _enqueue(kp: KeyPool<A>, options: AcquireOptions | undefined): Promise<A> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new AcquireAbortedError(kp.key, signal.reason));
    let timeoutMs = options?.timeoutMs ?? kp.limits.acquireTimeoutMs;
    const canCreate = this._hasRoom(kp) || this._canEvictFor(kp);
    if (timeoutMs === 0) {
      // 0 = don't queue behind a full pool; a create still gets the normal deadline.
      if (!canCreate) return Promise.reject(new AcquireTimeoutError(kp.key, 0));
      timeoutMs = kp.limits.acquireTimeoutMs;
    }
    if (!canCreate) {
      if (kp.waiters.length >= this._maxWaiters) return Promise.reject(new TooManyWaitersError(kp.key, this._maxWaiters));
    }
    // Fail fast while creation is broken and nothing else could ever serve this caller.
    if (this._propagateCreateError && kp.retryTimer !== null && kp.inUse === 0 && kp.creating === 0 && kp.idle.length === 0) {
      return Promise.reject(new CreateFailedError(kp.key, kp.lastCreateError));
    }
    return new Promise<A>((resolve, reject) => {
      const now = Date.now();
      const w: Waiter<A> = { kp, enqueuedAt: now, timeoutMs, deadline: now + timeoutMs, resolve, reject, signal, onAbort: null };
      if (w.deadline < kp.deadlineAt) this._armDeadline(kp, w.deadline, now);
      if (signal !== undefined) {
        w.onAbort = () => this._abortWaiter(w);
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      kp.waiters.push(w);
      // A full pool with nothing idle has nothing to dispatch: the next release serves this waiter.
      if (canCreate || kp.idle.length > 0) this._dispatch(kp);
    });
  }

  /** Gives `e` (already lent with `_lend`) to waiter `w`, which has been removed from the queue. */
  private _serve(w: Waiter<A>, e: Entry<A>): void {
    this._settleWaiter(w);
    if (this._listeners.acquired !== undefined) {
      this._emit('acquired', { key: e.kp.key, adapter: e.adapter, waitedMs: Date.now() - w.enqueuedAt, useCount: e.useCount });
    }
    w.resolve(e.adapter);
  }

  private _settleWaiter(w: Waiter<A>): void {
    if (w.onAbort !== null) w.signal!.removeEventListener('abort', w.onAbort);
    w.onAbort = null;
    const kp = w.kp;
    // Nobody left waiting: drop the deadline timer so it cannot keep the process alive.
    if (kp.waiters.length === 0 && kp.deadlineTimer !== null) this._disarmDeadline(kp);
  }

  private _armDeadline(kp: KeyPool<A>, at: number, now: number): void {
    if (kp.deadlineTimer !== null) clearTimeout(kp.deadlineTimer);
    kp.deadlineAt = at;
    kp.deadlineTimer = setTimeout(() => this._sweepDeadlines(kp), Math.max(1, at - now));
  }

  private _disarmDeadline(kp: KeyPool<A>): void {
    clearTimeout(kp.deadlineTimer!);
    kp.deadlineTimer = null;
    kp.deadlineAt = Infinity;
  }

  /** Rejects every waiter whose deadline passed and re-arms for the next one. */
  private _sweepDeadlines(kp: KeyPool<A>): void {
    kp.deadlineTimer = null;
    kp.deadlineAt = Infinity;
    const now = Date.now();
    const expired: Waiter<A>[] = [];
    let next = Infinity;
    let j = 0;
    for (let i = 0; i < kp.waiters.length; i++) {
      const w = kp.waiters[i]!;
      if (w.deadline <= now) expired.push(w);
      else {
        kp.waiters[j++] = w;
        if (w.deadline < next) next = w.deadline;
      }
    }
    kp.waiters.length = j;
    if (next !== Infinity) this._armDeadline(kp, next, now);
    for (const w of expired) this._expireWaiter(w, now);
  }

  private _removeWaiter(w: Waiter<A>): boolean {
    const i = w.kp.waiters.indexOf(w);
    if (i < 0) return false;
    w.kp.waiters.splice(i, 1);
    this._settleWaiter(w);
    return true;
  }

  private _expireWaiter(w: Waiter<A>, now: number): void {
    this._settleWaiter(w);
    const kp = w.kp;
    const waitedMs = now - w.enqueuedAt;
    this._emit('timeout', { key: kp.key, waitedMs });
    // A create that failed while this caller waited explains the wait better than a bare timeout.
    if (kp.lastCreateErrorAt >= w.enqueuedAt && kp.createFailures > 0) {
      w.reject(new CreateFailedError(kp.key, kp.lastCreateError));
    } else {
      this._log.warn?.({ key: kp.key, waitedMs }, `⏳ 获取适配器超时: ${kp.key} (${w.timeoutMs} ms)`);
      w.reject(new AcquireTimeoutError(kp.key, w.timeoutMs));
    }
  }

  private _abortWaiter(w: Waiter<A>): void {
    w.onAbort = null;
    if (this._removeWaiter(w)) w.reject(new AcquireAbortedError(w.kp.key, w.signal?.reason));
  }

  // -------------------------------------------------------------------------------------------
  // Capacity: creating, evicting, destroying
  // -------------------------------------------------------------------------------------------

  /** Serves waiters from idle adapters, then starts the creates this key needs and may have. */
  private _dispatch(kp: KeyPool<A>): void {
    if (this._closed || kp.removed) return;
    while (kp.waiters.length > 0) {
      const e = this._takeIdle(kp);
      if (e === null) break;
      this._lend(e);
      this._serve(kp.waiters.shift()!, e);
    }
    if (kp.retryTimer !== null) return;
    let needed = Math.max(kp.waiters.length - kp.creating, kp.limits.minPoolSize - this._liveCount(kp) - kp.creating);
    while (needed > 0 && this._hasRoom(kp)) {
      this._create(kp);
      needed--;
    }
    // At maxTotal, real demand (not the minimum) may close another key's idle adapter to make room.
    if (kp.waiters.length > kp.creating && this._roomInKey(kp) && this._count >= this._maxTotal) this._evictFor(kp);
  }

  private _liveCount(kp: KeyPool<A>): number {
    return kp.entries.length - kp.closing;
  }

  private _roomInKey(kp: KeyPool<A>): boolean {
    return kp.entries.length + kp.creating < kp.limits.maxPoolSize;
  }

  private _hasRoom(kp: KeyPool<A>): boolean {
    return this._roomInKey(kp) && this._count < this._maxTotal;
  }

  private _canEvictFor(kp: KeyPool<A>): boolean {
    if (!this._roomInKey(kp)) return false;
    for (const other of this._pools) if (other !== kp && other.idle.length > 0) return true;
    return false;
  }

  /** Closes the least recently used idle adapter of another key (commons-pool2 POOL-310). */
  private _evictFor(kp: KeyPool<A>): void {
    let victim: KeyPool<A> | null = null;
    for (const other of this._pools) {
      if (other === kp || other.idle.length === 0) continue;
      if (victim === null || other.idle[0]!.lastUsedAt < victim.idle[0]!.lastUsedAt) victim = other;
    }
    if (victim !== null) this._destroy(victim.idle.shift()!, 'evicted');
  }

  private _create(kp: KeyPool<A>): void {
    kp.creating++;
    this._count++;
    const check = kp.suspect;
    const generation = kp.generation;
    let timedOut = false;
    let timer: NodeJS.Timeout | null = null;
    const attempt = (async () => {
      const adapter = await this._createAdapter(kp.keyObj);
      if (adapter === null || typeof adapter !== 'object' || typeof adapter.close !== 'function') {
        throw new TypeError('createAdapter resolved to something that is not an adapter');
      }
      return adapter;
    })();
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`createAdapter did not finish within ${this._createTimeoutMs} ms`));
      }, this._createTimeoutMs);
      timer.unref();
    });
    const done = Promise.race([attempt, deadline])
      .then(
        async (adapter) => {
          if (check && !this._closed) {
            const healthy = await this._check(adapter);
            if (!healthy) {
              void adapter.close().catch(() => {});
              throw new Error('new adapter failed its health check');
            }
          }
          return adapter;
        },
      )
      .then(
        (adapter) => this._created(kp, adapter, generation),
        (error: unknown) => this._createFailed(kp, error),
      )
      .finally(() => {
        if (timer !== null) clearTimeout(timer);
        this._pendingCreates.delete(done);
      });
    this._pendingCreates.add(done);
    // A create that finishes after its deadline holds no capacity any more: close what it made.
    attempt.then(
      (adapter) => {
        if (timedOut) {
          this._log.warn?.({ key: kp.key }, `createAdapter for ${kp.key} finished after its timeout; closing it`);
          void adapter.close().catch(() => {});
          this._emit('destroyed', { key: kp.key, adapter, reason: 'late_create' });
        }
      },
      () => {},
    );
  }

  private _created(kp: KeyPool<A>, adapter: A, generation: number): void {
    kp.creating--;
    kp.createFailures = 0;
    if (this._closed || kp.removed || generation !== kp.generation) {
      // Shut down, removed, or made with settings renewKey replaced: never lent.
      this._count--;
      void adapter.close().catch(() => {});
      if (kp.removed) this._checkEmpty(kp);
      else if (!this._closed) this._dispatch(kp);
      return;
    }
    const now = Date.now();
    const lifetime = kp.limits.maxLifetimeMs;
    const e: Entry<A> = {
      adapter,
      id: this._nextId++,
      kp,
      state: 'idle',
      useCount: 0,
      createdAt: now,
      lastUsedAt: 0,
      expiresAt: lifetime === Infinity ? Infinity : now + lifetime - Math.random() * lifetime * LIFETIME_JITTER,
      retire: null,
      failedChecks: 0,
      leakTimer: null,
    };
    kp.entries.push(e);
    this._entries.set(adapter, e);
    kp.idle.push(e);
    this._log.info?.({ key: kp.key, adapter: e.id }, `✅ 创建适配器成功: ${kp.key}`);
    this._emit('created', { key: kp.key, adapter });
    this._dispatch(kp);
  }

  private _createFailed(kp: KeyPool<A>, error: unknown): void {
    kp.creating--;
    this._count--;
    if (this._closed) return;
    if (kp.removed) {
      this._checkEmpty(kp);
      return;
    }
    kp.createFailures++;
    kp.lastCreateError = error;
    kp.lastCreateErrorAt = Date.now();
    const err = error instanceof Error ? error : new Error(String(error));
    this._log.error?.({ key: kp.key, err: { message: err.message } }, `❌ 创建适配器失败: ${kp.key}: ${err.message}`);
    this._emit('createFailed', { key: kp.key, error: err });
    if (this._propagateCreateError && kp.waiters.length > kp.creating) {
      const w = kp.waiters.shift()!;
      this._settleWaiter(w);
      w.reject(new CreateFailedError(kp.key, error));
    }
    // Retry through a real timer with exponential backoff, never a microtask loop (generic-pool #175).
    const delay = Math.min(this._createRetryMaxMs, this._createRetryInitialMs * 2 ** (kp.createFailures - 1));
    if (kp.retryTimer === null) {
      kp.retryTimer = setTimeout(() => {
        kp.retryTimer = null;
        this._dispatch(kp);
      }, delay);
      kp.retryTimer.unref();
    }
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
      this._emit('destroyed', { key: kp.key, adapter: e.adapter, reason });
      if (kp.removed) this._checkEmpty(kp);
      this._onCapacityFreed();
    };
    let closing: Promise<void>;
    try {
      closing = Promise.resolve(e.adapter.close());
    } catch (err) {
      closing = Promise.reject(err);
    }
    const done = closing.then(finish, (err: unknown) => {
      this._emitError(kp.key, err);
      finish();
    });
    this._pendingCloses.add(done);
    void done.finally(() => this._pendingCloses.delete(done));
  }

  /** Freed capacity serves the waiting keys, oldest waiter first. */
  private _onCapacityFreed(): void {
    if (this._closed) return;
    let waiting: KeyPool<A>[] | null = null;
    for (const kp of this._pools) {
      if (kp.waiters.length > kp.creating || (kp.idle.length > 0 && kp.waiters.length > 0)) (waiting ??= []).push(kp);
    }
    if (waiting === null) return;
    waiting.sort((a, b) => a.waiters[0]!.enqueuedAt - b.waiters[0]!.enqueuedAt);
    for (const kp of waiting) this._dispatch(kp);
  }

  private _expiry(e: Entry<A>, now: number): DestroyReason | null {
    if (e.useCount >= e.kp.limits.maxUses) return 'expired_uses';
    if (now >= e.expiresAt) return 'expired_lifetime';
    return null;
  }

  private _armLeakTimer(e: Entry<A>): void {
    const stack = new Error('adapter acquired here').stack ?? '';
    const heldSince = Date.now();
    if (e.leakTimer !== null) clearTimeout(e.leakTimer);
    e.leakTimer = setTimeout(() => {
      e.leakTimer = null;
      const heldMs = Date.now() - heldSince;
      this._log.warn?.({ key: e.kp.key, adapter: e.id, heldMs, stack }, `⚠️ 适配器可能泄漏: ${e.kp.key} (已持有 ${heldMs} ms)`);
      this._emit('leak', { key: e.kp.key, adapter: e.adapter, heldMs, stack });
    }, this._leakDetectionMs);
    e.leakTimer.unref();
  }

  // -------------------------------------------------------------------------------------------
  // Health
  // -------------------------------------------------------------------------------------------

  private async _runHealthCheck(): Promise<HealthCheckResult> {
    const result: HealthCheckResult = { checked: 0, healthy: 0, unhealthy: 0, recovered: 0, replaced: 0, skipped_in_use: 0, pools: {} };
    if (this._closed) return result;
    const jobs: Promise<void>[] = [];
    for (const kp of this._pools) {
      const row = { checked: 0, healthy: 0, unhealthy: 0, recovered: 0 };
      result.pools[kp.key] = row;
      for (const e of [...kp.entries]) {
        if (e.state === 'in_use') {
          result.skipped_in_use++;
          continue;
        }
        if (e.state !== 'idle' && e.state !== 'unhealthy') continue;
        const wasUnhealthy = e.state === 'unhealthy';
        if (wasUnhealthy) kp.unhealthy--;
        else kp.idle.splice(kp.idle.indexOf(e), 1);
        e.state = 'checking';
        row.checked++;
        result.checked++;
        jobs.push(
          this._check(e.adapter).then((healthy) => {
            if (e.state !== 'checking') return; // closed meanwhile
            if (kp.removed) {
              this._destroy(e, 'removed');
              return;
            }
            if (healthy) {
              row.healthy++;
              result.healthy++;
              e.failedChecks = 0;
              kp.suspect = false;
              if (wasUnhealthy) {
                row.recovered++;
                result.recovered++;
                this._log.info?.({ key: kp.key, adapter: e.id }, `💚 适配器恢复健康: ${kp.key}`);
                this._emit('recovered', { key: kp.key, adapter: e.adapter });
              }
              if (e.retire !== null) {
                this._destroy(e, e.retire);
                return;
              }
              e.state = 'idle';
              kp.idle.push(e);
            } else {
              row.unhealthy++;
              result.unhealthy++;
              e.failedChecks++;
              if (e.failedChecks >= this._maxFailedHealthChecks) {
                result.replaced++;
                kp.suspect = true;
                this._destroy(e, 'unhealthy');
              } else {
                this._markUnhealthy(e, undefined, wasUnhealthy);
              }
            }
            this._dispatch(kp);
          }),
        );
      }
    }
    await Promise.all(jobs);
    await this._settleCreates();
    return result;
  }

  /** true = healthy. A false result, a rejection or a check slower than the timeout = unhealthy. */
  private async _check(adapter: A): Promise<boolean> {
    let timer: NodeJS.Timeout | null = null;
    try {
      const outcome = await Promise.race([
        Promise.resolve().then(() => adapter.healthCheck()),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), this._healthCheckTimeoutMs);
        }),
      ]);
      return outcome !== false;
    } catch {
      return false;
    } finally {
      if (timer !== null) clearTimeout(timer);
    }
  }

  private _markUnhealthy(e: Entry<A>, error?: unknown, quiet = false): void {
    const kp = e.kp;
    const i = kp.idle.indexOf(e);
    if (i >= 0) kp.idle.splice(i, 1);
    if (e.state !== 'unhealthy') kp.unhealthy++;
    e.state = 'unhealthy';
    kp.suspect = true;
    if (!quiet) {
      this._log.warn?.({ key: kp.key, adapter: e.id }, `💔 适配器不健康: ${kp.key}`);
      this._emit('unhealthy', { key: kp.key, adapter: e.adapter, error });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Shutdown, events, helpers
  // -------------------------------------------------------------------------------------------

  private async _close(): Promise<void> {
    this._closed = true;
    if (this._cleanupTimer !== null) clearInterval(this._cleanupTimer);
    if (this._healthTimer !== null) clearInterval(this._healthTimer);
    this._cleanupTimer = this._healthTimer = null;
    for (const kp of [...this._pools, ...this._removing]) {
      if (kp.retryTimer !== null) clearTimeout(kp.retryTimer);
      kp.retryTimer = null;
      if (kp.deadlineTimer !== null) this._disarmDeadline(kp);
      for (const w of kp.waiters.splice(0)) {
        this._settleWaiter(w);
        w.reject(new PoolClosedError(kp.key));
      }
      for (const e of kp.idle.splice(0)) this._destroy(e, 'closed');
      for (const e of [...kp.entries]) if (e.state === 'unhealthy') this._destroy(e, 'closed');
    }
    if (this._inUseTotal > 0) {
      let timer: NodeJS.Timeout | null = null;
      await new Promise<void>((resolve) => {
        this._onIdle = resolve;
        timer = setTimeout(resolve, this._closeTimeoutMs);
      });
      this._onIdle = null;
      if (timer !== null) clearTimeout(timer);
    }
    await this._settleCreates();
    // Whatever is still lent after the deadline is closed under its holder: shutdown wins.
    for (const kp of [...this._pools, ...this._removing]) for (const e of [...kp.entries]) if (e.state !== 'closing') this._destroy(e, 'closed');
    while (this._pendingCloses.size > 0) await Promise.allSettled([...this._pendingCloses]);
  }

  private async _settleCreates(): Promise<void> {
    while (this._pendingCreates.size > 0) await Promise.allSettled([...this._pendingCreates]);
  }

  private _entryStats(kp: KeyPool<A>): PoolStatsEntry {
    let unhealthy = 0;
    let checking = 0;
    let expired = 0;
    const now = Date.now();
    for (const e of kp.entries) {
      if (e.state === 'unhealthy') unhealthy++;
      else if (e.state === 'checking') checking++;
      if (e.state !== 'closing' && (e.retire !== null || this._expiry(e, now) !== null)) expired++;
    }
    const total = kp.entries.length - kp.closing;
    return {
      total,
      available: kp.idle.length,
      in_use: kp.inUse,
      unhealthy,
      expired,
      max_pool_size: kp.limits.maxPoolSize,
      min_pool_size: kp.limits.minPoolSize,
      checking,
      creating: kp.creating,
      closing: kp.closing,
      waiting: kp.waiters.length,
      utilization_rate: rate(kp.inUse, total, 0),
      health_rate: rate(total - unhealthy, total, 100),
    };
  }

  private _emit<E extends keyof PoolEvents<A>>(event: E, payload: PoolEvents<A>[E]): void {
    const list = this._listeners[event] as Array<Listener<A, E>> | undefined;
    if (list === undefined) return;
    for (const fn of list) {
      // A throwing listener must not break the pool (tarn's listener test).
      try {
        fn(payload);
      } catch (err) {
        this._log.error?.({ err }, `pool event listener for "${String(event)}" threw`);
      }
    }
  }

  private _emitError(key: string, error: unknown): void {
    this._log.error?.({ key, err: error }, `adapter pool error: ${key}`);
    this._emit('error', { key, error });
  }
}

// ---------------------------------------------------------------------------------------------
// Option validation (precise messages, tarn style)
// ---------------------------------------------------------------------------------------------

function pickLimits(o: Partial<PoolLimits>): Partial<PoolLimits> {
  const out: Partial<PoolLimits> = {};
  if (o.maxPoolSize !== undefined) out.maxPoolSize = o.maxPoolSize;
  if (o.minPoolSize !== undefined) out.minPoolSize = o.minPoolSize;
  if (o.acquireTimeoutMs !== undefined) out.acquireTimeoutMs = o.acquireTimeoutMs;
  if (o.maxUses !== undefined) out.maxUses = o.maxUses;
  if (o.idleTimeoutMs !== undefined) out.idleTimeoutMs = o.idleTimeoutMs;
  if (o.maxLifetimeMs !== undefined) out.maxLifetimeMs = o.maxLifetimeMs;
  return out;
}

function validateLimits(where: string, l: PoolLimits): PoolLimits {
  const at = (name: string): string => `${where}: ${name}`;
  count(at('maxPoolSize'), l.maxPoolSize, 1, false);
  count(at('minPoolSize'), l.minPoolSize, 0, false);
  if (l.minPoolSize > l.maxPoolSize) {
    throw new RangeError(`${where}: minPoolSize (${l.minPoolSize}) must not be greater than maxPoolSize (${l.maxPoolSize})`);
  }
  duration(at('acquireTimeoutMs'), l.acquireTimeoutMs, 0);
  count(at('maxUses'), l.maxUses, 1);
  duration(at('idleTimeoutMs'), l.idleTimeoutMs, 1);
  duration(at('maxLifetimeMs'), l.maxLifetimeMs, 1);
  return l;
}

function count(name: string, v: unknown, min: number, infinityOk = true): number {
  const label = name.includes(':') ? name : `AdapterPool: ${name}`;
  if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`${label} must be a number, got ${JSON.stringify(v)}`);
  if (v === Infinity && infinityOk) return v;
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${label} must be an integer >= ${min}${infinityOk ? ' or Infinity' : ''}, got ${v}`);
  return v;
}

function duration(name: string, v: unknown, min: number): number {
  const label = name.includes(':') ? name : `AdapterPool: ${name}`;
  if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`${label} must be a number of milliseconds, got ${JSON.stringify(v)}`);
  if (v === Infinity) return v;
  if (v < min || !Number.isFinite(v)) throw new RangeError(`${label} must be >= ${min} ms, got ${v}`);
  if (v > 2_147_483_647) throw new RangeError(`${label} must be at most 2147483647 ms (setTimeout's limit) or Infinity, got ${v}`);
  return v;
}

function rate(part: number, whole: number, empty: number): number {
  return whole === 0 ? empty : Math.round((part / whole) * 1000) / 10;
}
