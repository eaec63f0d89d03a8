import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { ReplicaView } from '../../cluster/index.js';
import type { PoolKey, PoolStats, PoolStatus } from '../../pool/types.js';
import { poolScopeQuerySchema, poolStatsQuerySchema } from '../schemas.js';
import type { AdapterDetailRow, GatewayPool, PoolEnvelope } from '../types.js';

/** The seed's messages, kept verbatim: clients match on them. */
export const POOL_MESSAGES = {
  stats: '获取适配器池统计信息成功',
  status: '获取适配器池状态成功',
  cleanup: '适配器池清理完成',
  healthCheck: '适配器池健康检查完成',
  statsFailed: '获取适配器池统计信息失败',
  statusFailed: '获取适配器池状态失败',
  cleanupFailed: '适配器池清理失败',
  healthCheckFailed: '适配器池健康检查失败',
} as const;

export interface PoolRouteOptions {
  pool: GatewayPool;
  /** The configured keys, to split `model:provider` without guessing (model ids may contain ':'). */
  keys: readonly PoolKey[];
  /** Guards the GET endpoints (API or admin key when keys are configured). */
  readAuth: onRequestAsyncHookHandler | undefined;
  /** Guards the POST endpoints (the admin rule). */
  adminAuth: onRequestAsyncHookHandler;
  /** The fleet through Redis (config `cluster.redis`); absent in a single process. */
  fleet?: FleetReader | undefined;
}

/** What `?scope=cluster` reads: this replica's id and mode, and the fleet (ratios 0..1). */
export interface FleetReader {
  readonly replicaId: string;
  readonly mode: 'shared' | 'local';
  view(): Promise<{ replicas: ReplicaView[]; stats: PoolStats; status: Omit<PoolStatus, 'max_total'> }>;
}

/** `/v1/pool/*`: stats and status in the seed's envelope, and on-demand cleanup and health check. */
export function registerPoolRoutes(app: FastifyInstance, opts: PoolRouteOptions): void {
  const { pool } = opts;
  const keyOf = new Map(opts.keys.map((k) => [`${k.model}:${k.provider}`, k]));
  const splitKey = (key: string): PoolKey => {
    const known = keyOf.get(key);
    if (known) return known;
    const i = key.lastIndexOf(':');
    return { model: key.slice(0, i), provider: key.slice(i + 1) };
  };
  const read = opts.readAuth ? [opts.readAuth] : [];

  const fleet = opts.fleet;
  const mode = (): 'shared' | 'local' => fleet?.mode ?? 'local';
  /** The fleet, or (no cluster, or Redis away: degrade, never error) this replica alone. */
  const fleetView = async () => {
    if (fleet !== undefined && fleet.mode === 'shared') {
      try {
        const v = await fleet.view();
        return { mode: 'shared' as const, ...v, replicas: v.replicas.map(replicaRow) };
      } catch {
        // Redis went away between the check and the read: answer for this replica.
      }
    }
    return { mode: 'local' as const, stats: pool.stats(), status: pool.status(), replicas: [{ id: fleet?.replicaId ?? 'local', last_seen: new Date().toISOString(), self: true }], local: true };
  };

  app.get<{ Querystring: { detail?: string; scope?: string } }>('/v1/pool/stats', { onRequest: read, schema: { querystring: poolStatsQuerySchema } }, async (request, reply) => {
    const detail = request.query.detail === 'true' || request.query.detail === '1';
    if (request.query.scope === 'cluster') {
      return envelope(reply, POOL_MESSAGES.stats, POOL_MESSAGES.statsFailed, async () => {
        const v = await fleetView();
        const stats = 'local' in v ? v.stats : formatStats(v.stats);
        return { ...stats, scope: 'cluster', mode: v.mode, replicas: v.replicas };
      });
    }
    return envelope(reply, POOL_MESSAGES.stats, POOL_MESSAGES.statsFailed, async () => {
      const stats = pool.stats();
      if (!detail) return stats;
      const pools: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(stats.pools)) {
        const { model, provider } = splitKey(key);
        pools[key] = { ...entry, adapters: pool.details(model, provider).map(detailRow) };
      }
      return { ...stats, pools };
    });
  });

  app.get<{ Querystring: { scope?: string } }>('/v1/pool/status', { onRequest: read, schema: { querystring: poolScopeQuerySchema } }, async (request, reply) => {
    if (request.query.scope === 'cluster') {
      return envelope(reply, POOL_MESSAGES.status, POOL_MESSAGES.statusFailed, async () => {
        const v = await fleetView();
        const status = 'local' in v ? v.status : formatStatus(v.status);
        return { ...status, scope: 'cluster', mode: v.mode, replicas: v.replicas };
      });
    }
    return envelope(reply, POOL_MESSAGES.status, POOL_MESSAGES.statusFailed, async () => ({ ...pool.status(), mode: mode() }));
  });

  const admin = [opts.adminAuth];
  app.post('/v1/pool/cleanup', { onRequest: admin }, async (_request, reply) =>
    envelope(reply, POOL_MESSAGES.cleanup, POOL_MESSAGES.cleanupFailed, () => pool.cleanup()),
  );
  app.post('/v1/pool/health-check', { onRequest: admin }, async (_request, reply) =>
    envelope(reply, POOL_MESSAGES.healthCheck, POOL_MESSAGES.healthCheckFailed, () => pool.healthCheck()),
  );
}

function detailRow(d: ReturnType<GatewayPool['details']>[number]): AdapterDetailRow {
  const c = d.adapter.counters();
  return {
    id: d.id,
    state: d.state,
    use_count: d.use_count,
    created_at: d.created_at,
    last_used_at: d.last_used_at,
    expired: d.expired,
    requests: c.requests,
    in_flight: c.in_flight,
    mean_latency_ms: round2(c.mean_latency_ms),
    success_rate: round2(c.success_rate),
  };
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/** The seed's percentage (one decimal) from a 0..1 ratio. */
const percent = (r: number): number => Math.round(r * 1000) / 10;

function formatStats(s: PoolStats): PoolStats {
  const pools: PoolStats['pools'] = {};
  for (const [k, e] of Object.entries(s.pools)) pools[k] = { ...e, utilization_rate: percent(e.utilization_rate), health_rate: percent(e.health_rate) };
  return { ...s, pools };
}

function formatStatus<T extends { utilization_rate: number; health_rate: number }>(s: T): T {
  return { ...s, utilization_rate: percent(s.utilization_rate), health_rate: percent(s.health_rate) };
}

/** One replica in `?scope=cluster`: its numbers and when it last published. */
function replicaRow(r: ReplicaView) {
  const inUse = Object.values(r.stats.pools).reduce((n, e) => n + e.in_use, 0);
  const open = r.circuits.filter((c) => c.circuit !== 'closed').map((c) => c.key);
  return {
    id: r.id,
    last_seen: new Date(Date.now() - r.last_seen_ms).toISOString(),
    last_seen_ms_ago: r.last_seen_ms,
    mode: r.mode,
    config_version: r.config_version,
    started_at: new Date(r.started_at).toISOString(),
    pools: r.stats.total_pools,
    in_use_adapters: inUse,
    in_flight: r.circuits.reduce((n, c) => n + c.inFlight, 0),
    open_circuits: open,
  };
}

/** Run `fn` and answer `{success, data, message}`; a failure is `success:false` with status 500. */
async function envelope<T>(
  reply: { code(status: number): unknown; request: { log: { error(obj: unknown, msg?: string): void } } },
  ok: string,
  failed: string,
  fn: () => Promise<T>,
): Promise<PoolEnvelope<T>> {
  try {
    return { success: true, data: await fn(), message: ok };
  } catch (err) {
    reply.request.log.error({ err }, failed);
    reply.code(500);
    return { success: false, data: null, message: `${failed}: ${err instanceof Error ? err.message : String(err)}` };
  }
}
