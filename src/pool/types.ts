/** What the pool lends. It knows nothing else about it. */
export interface PooledAdapter {
  /** Resolve `false` or reject to report the adapter unhealthy. */
  healthCheck(): Promise<boolean | void>;
  close(): Promise<void>;
}

export interface PoolKey {
  readonly model: string;
  readonly provider: string;
}

/** pino-compatible subset; every method is optional so `console` and pino both fit. */
export interface PoolLogger {
  debug?(obj: unknown, msg?: string): void;
  info?(obj: unknown, msg?: string): void;
  warn?(obj: unknown, msg?: string): void;
  error?(obj: unknown, msg?: string): void;
}

/** Per-key limits; any of them may be overridden for one `model:provider`. */
export interface PoolLimits {
  maxPoolSize: number;
  minPoolSize: number;
  acquireTimeoutMs: number;
  maxUses: number;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
}

export interface AdapterPoolOptions<A extends PooledAdapter> extends Partial<PoolLimits> {
  createAdapter: (key: PoolKey) => Promise<A>;
  /** Across all keys. */
  maxTotal?: number;
  maxWaiters?: number;
  cleanupIntervalMs?: number;
  healthCheckIntervalMs?: number;
  /**
   * Asked before each SCHEDULED health check (never before a manual `healthCheck()`): false skips
   * this round. Several processes sharing upstreams use it so that one of them checks at a time.
   */
  scheduledHealthCheckGate?: () => Promise<boolean> | boolean;
  /** A single health check slower than this counts as failed. */
  healthCheckTimeoutMs?: number;
  leakDetectionMs?: number;
  /** Consecutive failed health checks before an unhealthy adapter is replaced. */
  maxFailedHealthChecks?: number;
  /** A create slower than this frees its slot; what it makes later is closed. */
  createTimeoutMs?: number;
  /** A failed create rejects the oldest waiter at once (true) or is retried until its deadline (false). */
  propagateCreateError?: boolean;
  /** First backoff after a failed create; doubles up to `createRetryMaxMs`. */
  createRetryInitialMs?: number;
  createRetryMaxMs?: number;
  /** How long `close()` waits for lent adapters before closing them anyway; also the longest one adapter's own `close()` is waited for before its room is freed. */
  closeTimeoutMs?: number;
  /** Keys whose minimum is created by `start()` instead of on first use. */
  keys?: readonly PoolKey[];
  /** Per-key overrides, by `model:provider`. */
  keyOptions?: Readonly<Record<string, Partial<PoolLimits>>>;
  logger?: PoolLogger;
}

export interface AcquireOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Explicit lifecycle of one adapter (generic-pool style). */
export type AdapterState = 'creating' | 'idle' | 'in_use' | 'checking' | 'unhealthy' | 'closing';

/**
 * One key's counts. Ratios are 0..1 numbers; the server turns them into the percentages of `/v1/pool/*`.
 * total = available + in_use + unhealthy + checking.
 */
export interface PoolStatsEntry {
  readonly model: string;
  readonly provider: string;
  total: number;
  available: number;
  in_use: number;
  unhealthy: number;
  expired: number;
  max_pool_size: number;
  min_pool_size: number;
  /** Being health-checked (not lent meanwhile). */
  checking: number;
  creating: number;
  /** Being closed: no longer in total, still counted against the limits until their close ends. */
  closing: number;
  waiting: number;
  /** Failed creates in a row (0 once one succeeds): an upstream the pool cannot reach. */
  create_failures: number;
  /** in_use / total, 0 when empty. */
  utilization: number;
  /** (total - unhealthy) / total; when empty, 1, or 0 while its creates fail. */
  health: number;
}

export interface PoolStats {
  total_pools: number;
  /** By `poolKey(model, provider)`; each entry carries its model and provider. */
  pools: Record<string, PoolStatsEntry>;
}

export interface PoolStatus {
  total_pools: number;
  total_adapters: number;
  available_adapters: number;
  in_use_adapters: number;
  unhealthy_adapters: number;
  /** Idle adapters under a health check right now: total = available + in use + unhealthy + checking. */
  checking_adapters: number;
  /** 0..1, 0 when empty. */
  utilization: number;
  /** 0..1; when there is no adapter, 1, or 0 while a pool's creates fail. */
  health: number;
  waiting: number;
  max_total: number | null;
}

export interface AdapterDetail {
  id: number;
  state: AdapterState;
  use_count: number;
  created_at: number;
  last_used_at: number | null;
  expired: boolean;
}

export interface CleanupResult {
  removed: number;
  expired: number;
  unhealthy: number;
  created: number;
  pools: Record<string, { removed: number; created: number }>;
}

export interface HealthCheckResult {
  checked: number;
  healthy: number;
  unhealthy: number;
  recovered: number;
  replaced: number;
  skipped_in_use: number;
  pools: Record<string, { checked: number; healthy: number; unhealthy: number; recovered: number }>;
}

/** `resized`: over a lowered maxPoolSize; `removed`: its key was removed; `renewed`: replaced by `renewKey` (new provider settings). */
export type DestroyReason = 'expired_uses' | 'expired_idle' | 'expired_lifetime' | 'unhealthy' | 'evicted' | 'closed' | 'late_create' | 'removed' | 'resized' | 'renewed';

export interface PoolEvents<A> {
  created: { key: string; adapter: A };
  createFailed: { key: string; error: Error };
  acquired: { key: string; adapter: A; waitedMs: number; useCount: number };
  released: { key: string; adapter: A; useCount: number };
  destroyed: { key: string; adapter: A; reason: DestroyReason };
  unhealthy: { key: string; adapter: A; error?: unknown };
  recovered: { key: string; adapter: A };
  timeout: { key: string; waitedMs: number };
  leak: { key: string; adapter: A; heldMs: number; stack: string };
  error: { key: string; error: unknown };
  /** A health-check run finished (periodic or on demand; a run joined by several callers is emitted once). */
  healthCheck: { result: HealthCheckResult };
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
