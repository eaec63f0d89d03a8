import { poolKey } from '../pool/key.js';
import type { AdapterPoolOptions, PoolKey, PoolLimits, PooledAdapter } from '../pool/types.js';
import type { ProviderConfig } from '../providers/types.js';
import { DEFAULT_ROUTING_CONFIG, type Deployment, type Route, type RoutingConfig } from '../routing/types.js';
import type { Endpoint, GatewayConfig, PoolOverride, Pricing, ProviderEntry } from './schema.js';

/** The config translated into what the pool, the providers and the router take. */

/** A gateway model: the router's route (name, strategy, deployments) and the endpoints it serves. */
export interface ModelRoute extends Route {
  /** What the model serves (config `endpoints`, default `[chat]`). */
  readonly endpoints: readonly Endpoint[];
}

export function toProviderConfig(name: string, p: ProviderEntry): ProviderConfig {
  const out: ProviderConfig = {
    name,
    type: p.type,
    timeouts: { connectMs: p.connectTimeout, firstByteMs: p.firstByteTimeout, idleMs: p.idleTimeout },
    healthCheck: p.healthCheck,
    maxResponseSize: p.maxResponseSize,
    maxEventSize: p.maxEventSize,
  };
  if (p.streamUsage !== undefined) out.streamUsage = p.streamUsage;
  if (p.baseUrl !== undefined) out.baseUrl = p.baseUrl;
  if (p.apiKey !== undefined && p.apiKey !== '') out.apiKey = p.apiKey;
  if (p.headers !== undefined) out.headers = p.headers;
  if (p.apiVersion !== undefined) out.apiVersion = p.apiVersion;
  if (p.deployment !== undefined) out.deployment = p.deployment;
  if (p.anthropicVersion !== undefined) out.anthropicVersion = p.anthropicVersion;
  if (p.defaultMaxTokens !== undefined) out.defaultMaxTokens = p.defaultMaxTokens;
  if (p.mock !== undefined) {
    const m = p.mock;
    out.mock = {};
    if (m.latency !== undefined) out.mock.latencyMs = m.latency;
    if (m.chunks !== undefined) out.mock.chunks = m.chunks;
    if (m.chunkDelay !== undefined) out.mock.chunkDelayMs = m.chunkDelay;
    if (m.reply !== undefined) out.mock.reply = m.reply;
    if (m.failRate !== undefined) out.mock.failRate = m.failRate;
    if (m.failStatus !== undefined) out.mock.failStatus = m.failStatus;
    if (m.unhealthy !== undefined) out.mock.unhealthy = m.unhealthy;
    if (m.dimensions !== undefined) out.mock.dimensions = m.dimensions;
  }
  return out;
}

function toPoolLimits(o: PoolOverride): Partial<PoolLimits> {
  const out: Partial<PoolLimits> = {};
  if (o.maxPoolSize !== undefined) out.maxPoolSize = o.maxPoolSize;
  if (o.minPoolSize !== undefined) out.minPoolSize = o.minPoolSize;
  if (o.acquireTimeout !== undefined) out.acquireTimeoutMs = o.acquireTimeout;
  if (o.maxUses !== undefined) out.maxUses = usesLimit(o.maxUses);
  if (o.idleTimeout !== undefined) out.idleTimeoutMs = o.idleTimeout;
  if (o.maxLifetime !== undefined) out.maxLifetimeMs = o.maxLifetime;
  return out;
}

/** Every gateway model with its deployments, in config order. */
export function modelRoutes(config: GatewayConfig): Map<string, ModelRoute> {
  const routes = new Map<string, ModelRoute>();
  for (const [name, m] of Object.entries(config.models)) {
    const deployments = m.providers.map((d): Deployment => {
      const model = d.model ?? name;
      return Object.freeze({ key: poolKey(model, d.provider), provider: d.provider, model, weight: d.weight, priority: d.priority });
    });
    routes.set(name, Object.freeze({ name, strategy: m.strategy, deployments: Object.freeze(deployments), endpoints: Object.freeze([...m.endpoints]) }));
  }
  return routes;
}

/** Pool options except `createAdapter` and `logger`. Per-deployment `pool:` overrides merge by key, later ones win. */
export function poolOptions(config: GatewayConfig): Omit<AdapterPoolOptions<PooledAdapter>, 'createAdapter' | 'logger'> {
  const p = config.pool;
  const keys: PoolKey[] = [];
  const seen = new Set<string>();
  const keyOptions: Record<string, Partial<PoolLimits>> = {};
  for (const [name, m] of Object.entries(config.models)) {
    for (const d of m.providers) {
      const model = d.model ?? name;
      const key = poolKey(model, d.provider);
      if (!seen.has(key)) {
        seen.add(key);
        keys.push({ model, provider: d.provider });
      }
      if (d.pool) keyOptions[key] = { ...keyOptions[key], ...toPoolLimits(d.pool) };
    }
  }
  const out: Omit<AdapterPoolOptions<PooledAdapter>, 'createAdapter' | 'logger'> = {
    maxPoolSize: p.maxPoolSize,
    minPoolSize: p.minPoolSize,
    acquireTimeoutMs: p.acquireTimeout,
    maxUses: usesLimit(p.maxUses),
    idleTimeoutMs: p.idleTimeout,
    maxLifetimeMs: p.maxLifetime,
    cleanupIntervalMs: p.cleanupInterval,
    healthCheckIntervalMs: p.healthCheckInterval,
    healthCheckTimeoutMs: p.healthCheckTimeout,
    createRetryInitialMs: p.createRetryInitial,
    createRetryMaxMs: p.createRetryMax,
    createTimeoutMs: p.createTimeout,
    maxFailedHealthChecks: p.maxFailedHealthChecks,
    leakDetectionMs: p.leakDetection,
    closeTimeoutMs: p.closeTimeout,
    keys,
    keyOptions,
  };
  if (p.maxTotal !== undefined) out.maxTotal = p.maxTotal;
  if (p.maxWaiters !== undefined) out.maxWaiters = p.maxWaiters;
  return out;
}

export function routingConfig(config: GatewayConfig): RoutingConfig {
  const r = config.routing;
  return {
    ...DEFAULT_ROUTING_CONFIG,
    maxAttempts: r.maxAttempts,
    maxAttemptsPerDeployment: r.maxAttemptsPerDeployment,
    requestTimeoutMs: r.requestTimeout,
    retryBackoffInitialMs: r.retryBackoffInitial,
    retryBackoffMaxMs: r.retryBackoffMax,
    retryJitter: r.retryJitter,
    maxRetryAfterMs: r.maxRetryAfter,
    circuitConsecutiveFailures: r.circuitConsecutiveFailures,
    circuitFailureRate: r.circuitFailureRate,
    circuitWindowMs: r.circuitWindow,
    circuitMinRequests: r.circuitMinRequests,
    circuitCooldownMs: r.circuitCooldown,
    fullPoolWaitMs: r.fullPoolWait,
  };
}

/** `maxUses: 0` in config means "never retire for uses". */
function usesLimit(n: number): number {
  return n === 0 ? Infinity : n;
}

/** A client key as the server checks it: the SHA-256 digest only, never the key. */
export interface ClientKey {
  /** From `auth.keys[].name`; undefined for the plain `auth.apiKeys` list. */
  readonly name: string | undefined;
  /** SHA-256 of the key (32 bytes). */
  readonly digest: Buffer;
  /** Gateway models this key may use; undefined = all. */
  readonly models: ReadonlySet<string> | undefined;
  readonly rpm: number | undefined;
  readonly tpm: number | undefined;
  readonly maxConcurrent: number | undefined;
}

/** Every client key (`auth.apiKeys` then `auth.keys`), as digests. */
export function clientKeys(config: GatewayConfig, digest: (key: string) => Buffer): ClientKey[] {
  const out: ClientKey[] = config.auth.apiKeys.map((k) =>
    Object.freeze({ name: undefined, digest: digest(k), models: undefined, rpm: undefined, tpm: undefined, maxConcurrent: undefined }),
  );
  for (const k of config.auth.keys ?? []) {
    const d = k.key !== undefined ? digest(k.key) : Buffer.from(k.keyHash!.slice('sha256:'.length), 'hex');
    out.push(Object.freeze({ name: k.name, digest: d, models: k.models && new Set(k.models), rpm: k.rpm, tpm: k.tpm, maxConcurrent: k.maxConcurrent }));
  }
  return out;
}

/** Per-minute limits of one deployment (pool key). */
export interface DeploymentLimits {
  readonly rpm: number | undefined;
  readonly tpm: number | undefined;
}

/**
 * Limits by deployment key (`model:provider`). Two gateway models naming the same upstream model
 * on the same provider share one upstream account limit: the smaller figure wins.
 */
export function deploymentLimits(config: GatewayConfig): Map<string, DeploymentLimits> {
  const out = new Map<string, DeploymentLimits>();
  const min = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));
  for (const [name, m] of Object.entries(config.models)) {
    for (const d of m.providers) {
      if (d.rpm === undefined && d.tpm === undefined) continue;
      const key = poolKey(d.model ?? name, d.provider);
      const prev = out.get(key);
      out.set(key, Object.freeze({ rpm: min(prev?.rpm, d.rpm), tpm: min(prev?.tpm, d.tpm) }));
    }
  }
  return out;
}

/** Prices per million tokens by gateway model (models without `pricing` are absent). */
export function modelPricing(config: GatewayConfig): Map<string, Pricing> {
  const out = new Map<string, Pricing>();
  for (const [name, m] of Object.entries(config.models)) if (m.pricing !== undefined) out.set(name, m.pricing);
  return out;
}
