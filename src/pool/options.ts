import { poolKey } from './key.js';
import type { AdapterPoolOptions, PoolKey, PoolLimits, PoolLogger, PooledAdapter } from './types.js';

// Every limit has a name and a default here and in the README.

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

const OPTION_NAMES = new Set([
  'createAdapter', 'maxPoolSize', 'minPoolSize', 'maxTotal', 'acquireTimeoutMs', 'maxWaiters',
  'cleanupIntervalMs', 'healthCheckIntervalMs', 'scheduledHealthCheckGate', 'healthCheckTimeoutMs', 'maxFailedHealthChecks',
  'maxUses', 'idleTimeoutMs', 'maxLifetimeMs', 'leakDetectionMs', 'createTimeoutMs',
  'createRetryInitialMs', 'createRetryMaxMs', 'propagateCreateError', 'closeTimeoutMs', 'keys',
  'keyOptions', 'logger',
]);

/** The constructor's options, checked and with every default filled in. */
export interface ResolvedPoolOptions<A extends PooledAdapter> {
  createAdapter: (key: PoolKey) => Promise<A>;
  defaults: PoolLimits;
  /** Per-key overrides by `poolKey()`; mutable so keys added or resized later keep their limits. */
  keyOptions: Map<string, Partial<PoolLimits>>;
  maxTotal: number;
  maxWaiters: number;
  cleanupIntervalMs: number;
  healthCheckIntervalMs: number;
  scheduledHealthCheckGate: (() => Promise<boolean> | boolean) | undefined;
  healthCheckTimeoutMs: number;
  maxFailedHealthChecks: number;
  leakDetectionMs: number;
  createTimeoutMs: number;
  createRetryInitialMs: number;
  createRetryMaxMs: number;
  propagateCreateError: boolean;
  closeTimeoutMs: number;
  startKeys: readonly PoolKey[];
  log: PoolLogger;
  /**
   * Debug logging is on, asked at each line: the lending path formats its debug lines only then, and a
   * logger whose level changes while the pool runs (a reloaded `logging.level`) is followed.
   */
  debug: () => boolean;
}

/** Validates the constructor's options with precise messages (tarn style) and fills in defaults. */
export function resolvePoolOptions<A extends PooledAdapter>(options: AdapterPoolOptions<A>): ResolvedPoolOptions<A> {
  if (options === null || typeof options !== 'object') throw new TypeError('AdapterPool: options must be an object');
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new TypeError(`AdapterPool: unknown option "${name}"`);
  }
  if (typeof options.createAdapter !== 'function') {
    throw new TypeError('AdapterPool: createAdapter must be a function ({ model, provider }) => Promise<adapter>');
  }
  const defaults = validateLimits('AdapterPool', { ...DEFAULT_POOL_LIMITS, ...pickLimits(options) });
  const keyOptions = new Map<string, Partial<PoolLimits>>();
  for (const [key, limits] of Object.entries(options.keyOptions ?? {})) {
    validateLimits(`AdapterPool keyOptions["${key}"]`, { ...defaults, ...limits });
    keyOptions.set(key, pickLimits(limits));
  }
  const createRetryInitialMs = duration('createRetryInitialMs', options.createRetryInitialMs ?? DEFAULTS.createRetryInitialMs, 1);
  const startKeys = options.keys ?? [];
  for (const k of startKeys) {
    if (!k || typeof k.model !== 'string' || typeof k.provider !== 'string') {
      throw new TypeError('AdapterPool: keys must be { model: string, provider: string } objects');
    }
  }
  const maxTotal = count('maxTotal', options.maxTotal ?? DEFAULTS.maxTotal, 1);
  if (maxTotal !== Infinity) {
    const minSum = startKeys.reduce((s, k) => s + limitsFor(defaults, keyOptions, poolKey(k.model, k.provider)).minPoolSize, 0);
    if (minSum > maxTotal) {
      throw new RangeError(`AdapterPool: the minPoolSize of the configured keys (${minSum}) exceeds maxTotal (${maxTotal})`);
    }
  }
  const log = options.logger ?? {};
  const lg = log as PoolLogger & { isLevelEnabled?: (level: string) => boolean };
  return {
    createAdapter: options.createAdapter,
    defaults,
    keyOptions,
    maxTotal,
    maxWaiters: count('maxWaiters', options.maxWaiters ?? DEFAULTS.maxWaiters, 0),
    cleanupIntervalMs: duration('cleanupIntervalMs', options.cleanupIntervalMs ?? DEFAULTS.cleanupIntervalMs, 1),
    healthCheckIntervalMs: duration('healthCheckIntervalMs', options.healthCheckIntervalMs ?? DEFAULTS.healthCheckIntervalMs, 1),
    scheduledHealthCheckGate: options.scheduledHealthCheckGate,
    healthCheckTimeoutMs: duration('healthCheckTimeoutMs', options.healthCheckTimeoutMs ?? DEFAULTS.healthCheckTimeoutMs, 1),
    maxFailedHealthChecks: count('maxFailedHealthChecks', options.maxFailedHealthChecks ?? DEFAULTS.maxFailedHealthChecks, 1),
    leakDetectionMs: duration('leakDetectionMs', options.leakDetectionMs ?? DEFAULTS.leakDetectionMs, 0),
    createTimeoutMs: duration('createTimeoutMs', options.createTimeoutMs ?? DEFAULTS.createTimeoutMs, 1),
    createRetryInitialMs,
    createRetryMaxMs: duration('createRetryMaxMs', options.createRetryMaxMs ?? DEFAULTS.createRetryMaxMs, createRetryInitialMs),
    propagateCreateError: options.propagateCreateError ?? DEFAULTS.propagateCreateError,
    closeTimeoutMs: duration('closeTimeoutMs', options.closeTimeoutMs ?? DEFAULTS.closeTimeoutMs, 0),
    startKeys,
    log,
    debug: typeof lg.isLevelEnabled === 'function' ? () => lg.isLevelEnabled!('debug') : typeof lg.debug === 'function' ? () => true : () => false,
  };
}

/** The limits of one key: the defaults with that key's overrides on top. */
/** A caller's `timeoutMs`: NaN or a string would make a deadline that never comes (it waited for ever). */
export function badTimeout(asked: unknown): RangeError | undefined {
  if (typeof asked === 'number' && asked >= 0) return undefined;
  return new RangeError(`AdapterPool: timeoutMs must be a number of milliseconds >= 0 (Infinity: no deadline), got ${String(asked)}`);
}

/** A key's names: a missing argument once made a pool named "undefined:undefined". */
export function checkKeyNames(model: unknown, provider: unknown): void {
  if (typeof model !== 'string' || model === '' || typeof provider !== 'string' || provider === '') {
    throw new TypeError(`AdapterPool: model and provider must be non-empty strings, got ${JSON.stringify(model)} and ${JSON.stringify(provider)}`);
  }
}

export function limitsFor(defaults: PoolLimits, keyOptions: ReadonlyMap<string, Partial<PoolLimits>>, key: string): PoolLimits {
  const o = keyOptions.get(key);
  return o === undefined ? defaults : { ...defaults, ...o };
}

/** Only the limit fields of `o` that are set (so spreading it never writes `undefined`). */
export function pickLimits(o: Partial<PoolLimits>): Partial<PoolLimits> {
  const out: Partial<PoolLimits> = {};
  if (o.maxPoolSize !== undefined) out.maxPoolSize = o.maxPoolSize;
  if (o.minPoolSize !== undefined) out.minPoolSize = o.minPoolSize;
  if (o.acquireTimeoutMs !== undefined) out.acquireTimeoutMs = o.acquireTimeoutMs;
  if (o.maxUses !== undefined) out.maxUses = o.maxUses;
  if (o.idleTimeoutMs !== undefined) out.idleTimeoutMs = o.idleTimeoutMs;
  if (o.maxLifetimeMs !== undefined) out.maxLifetimeMs = o.maxLifetimeMs;
  return out;
}

export function validateLimits(where: string, l: PoolLimits): PoolLimits {
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
