import { isDeepStrictEqual } from 'node:util';
import { clientKeys, modelPricing, modelRoutes, routingConfig, toProviderConfig, type GatewayConfig, type ModelRoute, type Pricing } from '../../config/index.js';
import type { ProviderConfig } from '../../providers/types.js';
import type { RoutingConfig } from '../../routing/types.js';
import { ANTHROPIC_KEY_HINT, anthropicKey, digest, KeyRing, requireAdmin, requireKey, type AuthCheck } from '../auth.js';

/**
 * Everything a request reads of the config, derived once per load. Routes read the holder's current
 * snapshot (one reference read) and keep it for the whole request, so a reload never changes the
 * config under a request that already started.
 */
export interface GatewaySnapshot {
  /** 1 at start; +1 for each reload that changed something. */
  readonly version: number;
  /** When this config was loaded, ms since epoch. */
  readonly loadedAt: number;
  /** The running config (settings that need a restart keep the values the process started with). */
  readonly config: GatewayConfig;
  readonly routes: ReadonlyMap<string, ModelRoute>;
  readonly routing: RoutingConfig;
  readonly providers: ReadonlyMap<string, ProviderConfig>;
  /** Pool keys (`model:provider`) some deployment routes to. */
  readonly poolKeys: ReadonlySet<string>;
  /** The client keys (digests, names, models, limits) and the admin key. */
  readonly ring: KeyRing;
  /** Some client key has an rpm or tpm limit (its responses carry x-ratelimit-* headers). */
  readonly rateLimitedKeys: boolean;
  /** Prices per million tokens by gateway model (the usage ledger's cost). */
  readonly pricing: ReadonlyMap<string, Pricing>;
  /** Guards the API routes (undefined: no keys configured, open). */
  readonly apiAuth: AuthCheck | undefined;
  /** Guards the Anthropic-shaped routes: the same keys, also read from `x-api-key`. */
  readonly anthropicAuth: AuthCheck | undefined;
  /** Guards the read-only pool, metrics and dashboard data (API or admin key). */
  readonly readAuth: AuthCheck | undefined;
  /** The admin rule of the POST pool endpoints and the admin endpoints. */
  readonly adminAuth: AuthCheck;
  /** `GET /v1/models` answers, serialized once. */
  readonly modelList: { readonly body: string; readonly byId: ReadonlyMap<string, string> };
  /** Each model's `created` (Unix seconds): when it first appeared, kept across reloads. */
  readonly modelCreated: ReadonlyMap<string, number>;
  /** Chat requests that started on this snapshot and have not finished (the reloader drains on it). */
  active: number;
  /** Called when `active` drops to 0 after the snapshot was superseded. */
  onIdle: (() => void) | undefined;
}

/**
 * Derive a snapshot. `previous` lends its route objects where a route did not change, so state kept
 * per route object (strategy rotation, metrics cells) carries over.
 */
export function buildSnapshot(config: GatewayConfig, version: number, host: string, previous?: GatewaySnapshot): GatewaySnapshot {
  const fresh = modelRoutes(config);
  const routes = new Map<string, ModelRoute>();
  for (const [name, r] of fresh) {
    const old = previous?.routes.get(name);
    routes.set(name, old !== undefined && isDeepStrictEqual(old, r) ? old : r);
  }
  const poolKeys = new Set<string>();
  for (const r of routes.values()) for (const d of r.deployments) poolKeys.add(d.key);
  const auth = config.auth;
  const ring = new KeyRing(clientKeys(config, digest), auth.adminKey);
  const now = Math.floor(Date.now() / 1000);
  const modelCreated = new Map<string, number>();
  for (const id of routes.keys()) modelCreated.set(id, previous?.modelCreated.get(id) ?? now);
  const data = [...routes.keys()].map((id) => ({ id, object: 'model', created: modelCreated.get(id)!, owned_by: 'adapterpool' }));
  return {
    version,
    loadedAt: Date.now(),
    config,
    routes,
    routing: routingConfig(config),
    providers: new Map(Object.entries(config.providers).map(([name, p]) => [name, toProviderConfig(name, p)])),
    poolKeys,
    ring,
    rateLimitedKeys: ring.keys.some((k) => k.rpm !== undefined || k.tpm !== undefined),
    pricing: modelPricing(config),
    apiAuth: requireKey(ring),
    anthropicAuth: requireKey(ring, { token: anthropicKey, sendAs: ANTHROPIC_KEY_HINT }),
    readAuth: requireKey(ring, { admin: true }),
    // The admin rule reads the host the server really listens on (a changed host needs a restart).
    adminAuth: requireAdmin(auth.adminKey, host, ring),
    modelList: { body: JSON.stringify({ object: 'list', data }), byId: new Map(data.map((m) => [m.id, JSON.stringify(m)])) },
    modelCreated,
    active: 0,
    onIdle: undefined,
  };
}

/**
 * The running config: one reference, swapped whole between requests. Superseded snapshots that
 * still have requests on them are kept until those finish, so the reloader can wait for them.
 */
export class ConfigHolder {
  /**
   * Provider settings new adapters are built with. Set by the reloader just before it renews pools,
   * a step ahead of the swap, so adapters made for the new config never carry the old settings.
   */
  providers: ReadonlyMap<string, ProviderConfig>;
  private snap: GatewaySnapshot;
  private readonly draining = new Set<GatewaySnapshot>();

  constructor(initial: GatewaySnapshot) {
    this.snap = initial;
    this.providers = initial.providers;
  }

  get current(): GatewaySnapshot {
    return this.snap;
  }

  /** Make `next` the config of every request that starts from now on. */
  swap(next: GatewaySnapshot): GatewaySnapshot {
    const prev = this.snap;
    this.snap = next;
    if (prev.active > 0) {
      this.draining.add(prev);
      prev.onIdle = () => {
        prev.onIdle = undefined;
        this.draining.delete(prev);
        this.idleWaiters.splice(0).forEach((w) => w());
      };
    }
    return prev;
  }

  /** Superseded snapshots with requests still on them. */
  inUse(): GatewaySnapshot[] {
    return [...this.draining];
  }

  /** Resolves the next time a superseded snapshot's last request finishes. */
  nextIdle(): Promise<void> {
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private readonly idleWaiters: Array<() => void> = [];
}

/** A chat request starts on `s`: count it until its response closes. */
export function enter(s: GatewaySnapshot): void {
  s.active++;
}

export function leave(s: GatewaySnapshot): void {
  if (--s.active === 0 && s.onIdle !== undefined) s.onIdle();
}
