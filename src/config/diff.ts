import { isDeepStrictEqual } from 'node:util';
import type { PoolLimits } from '../pool/types.js';
import { poolKey } from '../pool/key.js';
import { poolOptions } from './derive.js';
import type { DeploymentEntry, GatewayConfig } from './schema.js';

/**
 * What changed between two configs, and what of it needs a restart. The reloader acts on it and the
 * reload endpoint returns it. Names only, never values: some of them are secrets.
 */
export interface ConfigChanges {
  /** Leaf paths changed outside `providers` and `models`, e.g. `routing.maxAttempts`, `auth.apiKeys`. */
  settings: string[];
  providers: AddedRemovedChanged;
  models: AddedRemovedChanged;
  /** Deployments by identity (`id`, else `model/provider/upstream model`); `changed` lists `identity: field, field`. */
  deployments: AddedRemovedChanged;
  /** Pools by `model:provider` key: created, drained, limits changed, adapters renewed (provider settings changed). */
  pools: { added: string[]; removed: string[]; resized: string[]; renewed: string[] };
  /** Settings that need a new process (a new listening socket...): reported, left as they were. */
  restartRequired: string[];
}

export interface AddedRemovedChanged {
  added: string[];
  removed: string[];
  changed: string[];
}

/**
 * Settings a running gateway cannot take: a new listening socket (host, port), or options its HTTP
 * server, pool timers, log destination or metrics were built with. Everything else applies live.
 */
export const RESTART_REQUIRED: readonly string[] = [
  'server.host',
  'server.port',
  'server.bodyLimit',
  // The HTTP server's request and header timers are set when it is made.
  'server.bodyTimeout',
  'pool.maxTotal',
  'pool.maxWaiters',
  'pool.cleanupInterval',
  'pool.healthCheckInterval',
  'pool.healthCheckTimeout',
  'pool.createRetryInitial',
  'pool.createRetryMax',
  'pool.createTimeout',
  'pool.maxFailedHealthChecks',
  'pool.leakDetection',
  'pool.closeTimeout',
  'metrics.processMetrics',
  // The dashboard's history buffers are sized once.
  'metrics.history',
  'metrics.historyStep',
  // The log destination (JSON or pretty) is opened once.
  'logging.format',
  'logging.flushInterval',
  // The usage ledger's store and the Redis link are opened once.
  'usage',
  'cluster',
];

/** The pool limits a key runs with: the `pool:` defaults merged with its deployments' overrides. */
export function keyLimits(config: GatewayConfig): Map<string, PoolLimits> {
  const o = poolOptions(config);
  const base: PoolLimits = {
    maxPoolSize: o.maxPoolSize!,
    minPoolSize: o.minPoolSize!,
    acquireTimeoutMs: o.acquireTimeoutMs!,
    maxUses: o.maxUses!,
    idleTimeoutMs: o.idleTimeoutMs!,
    maxLifetimeMs: o.maxLifetimeMs!,
  };
  const out = new Map<string, PoolLimits>();
  for (const k of o.keys ?? []) {
    const key = poolKey(k.model, k.provider);
    out.set(key, { ...base, ...o.keyOptions?.[key] });
  }
  return out;
}

/** Why the pools' minimums cannot fit under `pool.maxTotal` (the pool refuses them); undefined when they fit. */
export function poolTotalProblem(config: GatewayConfig): string | undefined {
  const max = config.pool.maxTotal;
  if (max === undefined) return undefined;
  let sum = 0;
  for (const l of keyLimits(config).values()) sum += l.minPoolSize;
  return sum > max ? `the minPoolSize of the configured pools (${sum}) exceeds maxTotal (${max})` : undefined;
}

interface DeploymentInfo {
  identity: string;
  gatewayModel: string;
  upstream: string;
  entry: DeploymentEntry;
}

/** Identity of a deployment across reloads: its explicit `id`, else gateway model + provider + upstream model. */
function deploymentIdentity(gatewayModel: string, d: DeploymentEntry): string {
  return d.id ?? `${gatewayModel}/${d.provider}/${d.model ?? gatewayModel}`;
}

function deployments(config: GatewayConfig): Map<string, DeploymentInfo> {
  const out = new Map<string, DeploymentInfo>();
  for (const [name, m] of Object.entries(config.models)) {
    for (const d of m.providers) {
      const identity = deploymentIdentity(name, d);
      // The same deployment listed twice under one model: the first one names it.
      if (!out.has(identity)) out.set(identity, { identity, gatewayModel: name, upstream: d.model ?? name, entry: d });
    }
  }
  return out;
}

export function diffConfig(before: GatewayConfig, after: GatewayConfig): ConfigChanges {
  const settings: string[] = [];
  for (const section of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (section === 'providers' || section === 'models') continue;
    leafDiff((before as Record<string, unknown>)[section], (after as Record<string, unknown>)[section], section, settings);
  }

  const providers = byName(before.providers, after.providers);
  const models = byName(before.models, after.models);

  const oldD = deployments(before);
  const newD = deployments(after);
  const dep: AddedRemovedChanged = { added: [], removed: [], changed: [] };
  for (const [id, n] of newD) {
    const o = oldD.get(id);
    if (o === undefined) {
      dep.added.push(id);
      continue;
    }
    const fields: string[] = [];
    if (o.gatewayModel !== n.gatewayModel) fields.push('model name');
    if (o.entry.provider !== n.entry.provider) fields.push('provider');
    if (o.upstream !== n.upstream) fields.push('upstream model');
    const oe = o.entry as Record<string, unknown>;
    const ne = n.entry as Record<string, unknown>;
    for (const f of new Set([...Object.keys(oe), ...Object.keys(ne)])) {
      if (f !== 'id' && f !== 'provider' && f !== 'model' && !isDeepStrictEqual(oe[f], ne[f])) fields.push(f);
    }
    if (fields.length > 0) dep.changed.push(`${id}: ${fields.join(', ')}`);
  }
  for (const id of oldD.keys()) if (!newD.has(id)) dep.removed.push(id);

  const oldL = keyLimits(before);
  const newL = keyLimits(after);
  const pools = { added: [] as string[], removed: [] as string[], resized: [] as string[], renewed: [] as string[] };
  const changedProviders = new Set(providers.changed);
  for (const [key, limits] of newL) {
    const old = oldL.get(key);
    if (old === undefined) pools.added.push(key);
    else {
      if (!isDeepStrictEqual(old, limits)) pools.resized.push(key);
      if (changedProviders.has(providerOfKey(key, after))) pools.renewed.push(key);
    }
  }
  for (const key of oldL.keys()) if (!newL.has(key)) pools.removed.push(key);

  const restartRequired = settings.filter((p) => RESTART_REQUIRED.some((r) => p === r || p.startsWith(`${r}.`)));
  return { settings, providers, models, deployments: dep, pools, restartRequired };
}

/** Nothing to apply (settings that need a restart count as changes: they are reported). */
export function isEmptyChange(c: ConfigChanges): boolean {
  const empty = (x: Record<string, string[]>) => Object.values(x).every((a) => a.length === 0);
  return c.settings.length === 0 && empty({ ...c.providers }) && empty({ ...c.models }) && empty({ ...c.deployments }) && empty({ ...c.pools });
}

/** `changes` without its empty lists and sections, for answers and log lines. */
export function compactChanges(c: ConfigChanges): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(c)) {
    if (Array.isArray(v)) {
      if (v.length > 0) out[k] = v;
      continue;
    }
    const inner: Record<string, string[]> = {};
    for (const [ik, iv] of Object.entries(v as Record<string, string[]>)) if (iv.length > 0) inner[ik] = iv;
    if (Object.keys(inner).length > 0) out[k] = inner;
  }
  return out;
}

/**
 * `after` with the restart-only settings put back to `before`'s values: what the gateway really runs.
 * The reloaded file may say port 9000; the process still listens where it started.
 */
export function pinRestartSettings(before: GatewayConfig, after: GatewayConfig, paths: readonly string[]): GatewayConfig {
  if (paths.length === 0) return after;
  const out = structuredClone(after);
  for (const path of paths) {
    const parts = path.split('.');
    let src: any = before;
    let dst: any = out;
    for (let i = 0; i < parts.length - 1; i++) {
      src = src?.[parts[i]!];
      dst = dst[parts[i]!] ??= {};
    }
    const last = parts[parts.length - 1]!;
    if (src === undefined || src[last] === undefined) delete dst[last];
    else dst[last] = structuredClone(src[last]);
  }
  return out;
}

function providerOfKey(key: string, config: GatewayConfig): string {
  for (const [name, m] of Object.entries(config.models)) {
    for (const d of m.providers) if (poolKey(d.model ?? name, d.provider) === key) return d.provider;
  }
  return '';
}

function byName(before: Record<string, unknown>, after: Record<string, unknown>): AddedRemovedChanged {
  const out: AddedRemovedChanged = { added: [], removed: [], changed: [] };
  for (const [name, v] of Object.entries(after)) {
    if (!Object.hasOwn(before, name)) out.added.push(name);
    else if (!isDeepStrictEqual(before[name], v)) out.changed.push(name);
  }
  for (const name of Object.keys(before)) if (!Object.hasOwn(after, name)) out.removed.push(name);
  return out;
}

/** Paths of the leaves that differ; arrays and non-objects compare whole. */
function leafDiff(a: unknown, b: unknown, path: string, out: string[]): void {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) leafDiff(a[k], b[k], `${path}.${k}`, out);
    return;
  }
  if (!isDeepStrictEqual(a, b)) out.push(path);
}
