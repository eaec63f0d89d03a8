import type { AdapterState, DestroyReason, KeyState, PoolKey, PoolLimits } from './types.js';
import { Fifo } from './fifo.js';

// The pool's internal records: one Entry per adapter, one KeyPool per model:provider, one Waiter
// per queued caller. Not exported from the package; AdapterPool.ts drives them, reports.ts reads them.

export interface Entry<A> {
  readonly adapter: A;
  readonly id: number;
  readonly kp: KeyPool<A>;
  state: AdapterState;
  useCount: number;
  readonly createdAt: number;
  /** Last acquire or release, ms since epoch; 0 = never used. */
  lastUsedAt: number;
  /** End of its `maxLifetime`; recomputed when its key's lifetime changes (`setKeyOptions`). */
  expiresAt: number;
  /** Marked to be retired when its holder releases it (soft eviction). */
  retire: DestroyReason | null;
  failedChecks: number;
  leakTimer: NodeJS.Timeout | null;
}

export interface Waiter<A> {
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

export interface KeyPool<A> {
  readonly key: string;
  readonly keyObj: PoolKey;
  /** Replaced (never mutated) by `setKeyOptions`. */
  limits: PoolLimits;
  /** Every adapter that exists, closing ones included (they still hold a connection). */
  readonly entries: Entry<A>[];
  /** Available adapters, a stack: the most recently released is lent first so spare ones idle out. */
  readonly idle: Entry<A>[];
  /** Callers waiting for an adapter, oldest first. */
  readonly waiters: Fifo<Waiter<A>>;
  creating: number;
  /** Adapters this key's creates made, ever (a cleanup reports the ones it started that succeeded). */
  made: number;
  closing: number;
  inUse: number;
  /** Adapters in state 'unhealthy', kept as a count: the router reads it on every request. */
  unhealthy: number;
  /** Consecutive failed creates; drives the backoff. */
  createFailures: number;
  lastCreateError: unknown;
  lastCreateErrorAt: number;
  /** When a failed create was last logged (repeats of a streak are logged at most once a minute). */
  createErrorLoggedAt: number;
  retryTimer: NodeJS.Timeout | null;
  /**
   * One timer per key for the earliest waiter deadline instead of one per waiter: arming and
   * clearing a timer per acquire costs more than the pool's own bookkeeping.
   */
  deadlineTimer: NodeJS.Timeout | null;
  deadlineAt: number;
  /** An adapter of this key failed a health check: new adapters are checked before they are lent. */
  suspect: boolean;
  /** Set by `removeKey`: lends nothing more, closes adapters as they come back, resolves when empty. */
  drain: { done: Promise<void>; resolve: () => void } | null;
  /** Bumped by `renewKey`: an adapter whose create started before it is stale and closed on arrival. */
  generation: number;
  readonly view: KeyState;
}

export function newKeyPool<A>(key: string, keyObj: PoolKey, limits: PoolLimits): KeyPool<A> {
  return {
    key,
    keyObj,
    limits,
    entries: [],
    idle: [],
    waiters: new Fifo<Waiter<A>>(),
    creating: 0,
    made: 0,
    closing: 0,
    inUse: 0,
    unhealthy: 0,
    createFailures: 0,
    lastCreateError: undefined,
    lastCreateErrorAt: 0,
    createErrorLoggedAt: 0,
    retryTimer: null,
    deadlineTimer: null,
    deadlineAt: Infinity,
    suspect: false,
    drain: null,
    generation: 0,
    view: { total: 0, available: 0, inUse: 0, unhealthy: 0, creating: 0, waiting: 0, maxPoolSize: limits.maxPoolSize },
  };
}

/** HikariCP subtracts up to 2.5 % of the lifetime so adapters created together don't expire together. */
const LIFETIME_JITTER = 0.025;

/** When an adapter made at `createdAt` reaches `lifetime` (jittered). */
export function lifetimeEnd(createdAt: number, lifetime: number): number {
  return lifetime === Infinity ? Infinity : createdAt + lifetime - Math.random() * lifetime * LIFETIME_JITTER;
}

/** A new idle adapter of `kp`. */
export function newEntry<A>(kp: KeyPool<A>, adapter: A, id: number, now: number): Entry<A> {
  const lifetime = kp.limits.maxLifetimeMs;
  return {
    adapter,
    id,
    kp,
    state: 'idle',
    useCount: 0,
    createdAt: now,
    lastUsedAt: 0,
    expiresAt: lifetimeEnd(now, lifetime),
    retire: null,
    failedChecks: 0,
    leakTimer: null,
  };
}

/** Adapters that exist and are not being closed. */
export function liveCount<A>(kp: KeyPool<A>): number {
  return kp.entries.length - kp.closing;
}

/** Why an adapter should be retired now, or null. */
export function expiry<A>(e: Entry<A>, now: number): DestroyReason | null {
  if (e.useCount >= e.kp.limits.maxUses) return 'expired_uses';
  if (now >= e.expiresAt) return 'expired_lifetime';
  return null;
}

/**
 * Who gives up an adapter at maxTotal for a waiter of `except`: the least recently used idle adapter of
 * another key (commons-pool2 POOL-310), else an unhealthy one.
 */
export function evictionVictim<A>(pools: readonly KeyPool<A>[], except: KeyPool<A>): Entry<A> | null {
  let victim: KeyPool<A> | null = null;
  for (const other of pools) {
    if (other === except || other.idle.length === 0) continue;
    if (victim === null || other.idle[0]!.lastUsedAt < victim.idle[0]!.lastUsedAt) victim = other;
  }
  if (victim !== null) return victim.idle[0]!;
  // No idle adapter anywhere: an unhealthy one holds room that nothing can be lent from.
  for (const other of pools) {
    if (other === except || other.unhealthy === 0) continue;
    for (const e of other.entries) if (e.state === 'unhealthy') return e;
  }
  return null;
}

/**
 * Records a failed create; returns whether to log it. A dead upstream fails every retry (backoff up
 * to createRetryMaxMs): the first failure of a streak is logged, a new message, and then one line
 * every `logEveryMs`, each with the count so far.
 */
export function recordCreateFailure<A>(kp: KeyPool<A>, error: unknown, message: string, now: number, logEveryMs: number): boolean {
  const sameAsBefore = kp.createFailures > 0 && messageOf(kp.lastCreateError) === message;
  kp.createFailures++;
  kp.lastCreateError = error;
  kp.lastCreateErrorAt = now;
  if (sameAsBefore && now - kp.createErrorLoggedAt < logEveryMs) return false;
  kp.createErrorLoggedAt = now;
  return true;
}

export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
