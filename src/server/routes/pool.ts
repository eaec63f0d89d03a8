import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { ReplicaView } from '../../cluster/index.js';
import type { PoolStats, PoolStatsEntry, PoolStatus } from '../../pool/types.js';
import { protoKeysExplained } from '../edge.js';
import { answerError } from '../error-reply.js';
import { toErrorReply } from '../errors.js';
import { poolScopeQuerySchema, poolStatsQuerySchema } from '../schemas.js';
import type { AdapterDetailRow, GatewayPool, PoolEnvelope } from '../types.js';

/** The endpoint messages, kept verbatim: clients match on them. */
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
  /** Guards the GET endpoints (API or admin key when keys are configured). */
  readAuth: onRequestAsyncHookHandler | undefined;
  /** Guards the POST endpoints (the admin rule). */
  adminAuth: onRequestAsyncHookHandler;
  /** The fleet through Redis (config `cluster.redis`); absent in a single process. */
  fleet?: FleetReader | undefined;
}

/** What `?scope=cluster` reads: this replica's id and mode, and the fleet's sums. */
export interface FleetReader {
  readonly replicaId: string;
  readonly mode: 'shared' | 'local';
  view(): Promise<{ replicas: ReplicaView[]; stats: PoolStats; status: Omit<PoolStatus, 'max_total'> }>;
}

/** The failure message of each `/v1/pool/*` endpoint, by route. */
const FAILED_BY_ROUTE: Readonly<Record<string, string>> = {
  '/v1/pool/stats': POOL_MESSAGES.statsFailed,
  '/v1/pool/status': POOL_MESSAGES.statusFailed,
  '/v1/pool/cleanup': POOL_MESSAGES.cleanupFailed,
  '/v1/pool/health-check': POOL_MESSAGES.healthCheckFailed,
};

/**
 * `/v1/pool/*`: stats and status in the `{success, data, message}` envelope, and on-demand cleanup and health check.
 * In their own scope: every failure on them (a bad query, a body that is not JSON, a refused key)
 * answers in the envelope too.
 */
export function registerPoolRoutes(app: FastifyInstance, opts: PoolRouteOptions): void {
  app.register(async (scope) => {
    scope.setErrorHandler(envelopeErrorReply);
    registerPoolEndpoints(scope, opts);
  });
}

/**
 * A failure before or outside an endpoint's own work, in the envelope: `success:false`,
 * `data:null`, `message` the endpoint's failure message and why. `error` carries the gateway's usual
 * error object beside it (code, type, param), for clients that read that shape.
 */
function envelopeErrorReply(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const failed = FAILED_BY_ROUTE[request.routeOptions.url ?? ''] ?? 'failed';
  return answerError(err, request, reply, (e) => {
    const r = toErrorReply(e);
    return { ...r, body: { success: false, data: null, message: `${failed}: ${r.body.error.message}`, error: r.body.error } };
  });
}

function registerPoolEndpoints(app: FastifyInstance, opts: PoolRouteOptions): void {
  const { pool } = opts;
  const read = opts.readAuth ? [opts.readAuth] : [];
  const fleet = opts.fleet;
  const mode = (): 'shared' | 'local' => fleet?.mode ?? 'local';
  /** `clustered`: `cluster.redis` is configured (false = a single process); `replica_id`: the replica answering. */
  const fleetIdentity = () => ({ clustered: fleet !== undefined, replica_id: fleet?.replicaId ?? null });
  /** The fleet; or this replica alone when there is no cluster or Redis is away (degrade, never error). */
  const fleetView = async (): Promise<{ mode: 'shared' | 'local'; stats: PoolStats; status: Omit<PoolStatus, 'max_total'>; replicas: unknown[] }> => {
    if (fleet !== undefined && fleet.mode === 'shared') {
      try {
        const v = await fleet.view();
        return { mode: 'shared', stats: v.stats, status: v.status, replicas: v.replicas.map((r) => replicaRow(r, fleet.replicaId)) };
      } catch {
        // Redis went away between the check and the read: answer for this replica.
      }
    }
    return { mode: 'local', stats: pool.stats(), status: pool.status(), replicas: [{ id: fleet?.replicaId ?? 'local', self: true, last_seen: new Date().toISOString(), last_seen_ms_ago: 0 }] };
  };

  app.get<{ Querystring: { detail?: string; scope?: string } }>('/v1/pool/stats', { onRequest: read, schema: { querystring: poolStatsQuerySchema } }, async (request, reply) => {
    const detail = request.query.detail === 'true' || request.query.detail === '1';
    if (request.query.scope === 'cluster') {
      return envelope(reply, POOL_MESSAGES.stats, POOL_MESSAGES.statsFailed, async () => {
        const v = await fleetView();
        const pools: Record<string, StatsRow> = {};
        for (const [key, entry] of Object.entries(v.stats.pools)) pools[key] = statsRow(entry);
        return { total_pools: v.stats.total_pools, pools, scope: 'cluster', ...fleetIdentity(), mode: v.mode, replicas: v.replicas };
      });
    }
    return envelope(reply, POOL_MESSAGES.stats, POOL_MESSAGES.statsFailed, async () => {
      const stats = pool.stats();
      const pools: Record<string, StatsRow> = {};
      for (const [key, entry] of Object.entries(stats.pools)) {
        const row = statsRow(entry);
        if (detail) row.adapters = pool.details(entry.model, entry.provider).map(detailRow);
        pools[key] = row;
      }
      return { total_pools: stats.total_pools, pools };
    });
  });

  app.get<{ Querystring: { scope?: string } }>('/v1/pool/status', { onRequest: read, schema: { querystring: poolScopeQuerySchema } }, async (request, reply) => {
    if (request.query.scope === 'cluster') {
      return envelope(reply, POOL_MESSAGES.status, POOL_MESSAGES.statusFailed, async () => {
        const v = await fleetView();
        return { ...statusBody({ ...v.status, max_total: null }), scope: 'cluster', ...fleetIdentity(), mode: v.mode, replicas: v.replicas };
      });
    }
    return envelope(reply, POOL_MESSAGES.status, POOL_MESSAGES.statusFailed, async () => ({ ...statusBody(pool.status()), mode: mode() }));
  });

  // The POST endpoints take no body, yet many clients send `content-type: application/json` on
  // every call, with nothing after it: an empty body is accepted here (a body, if any, must still parse).
  app.register(async (scope) => {
    const parseJson = protoKeysExplained(scope.getDefaultJsonParser('error', 'ignore'));
    // Replaces the gateway's own JSON parser (inherited) in this scope only.
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      if (body === '') done(null, undefined);
      else parseJson(request, body as string, done);
    });
    const admin = [opts.adminAuth];
    scope.post('/v1/pool/cleanup', { onRequest: admin }, async (_request, reply) =>
      envelope(reply, POOL_MESSAGES.cleanup, POOL_MESSAGES.cleanupFailed, () => pool.cleanup()),
    );
    scope.post('/v1/pool/health-check', { onRequest: admin }, async (_request, reply) =>
      envelope(reply, POOL_MESSAGES.healthCheck, POOL_MESSAGES.healthCheckFailed, () => pool.healthCheck()),
    );
  });
}

/** One key in GET /v1/pool/stats: the pool's counts, ratios as percentages with one decimal. */
interface StatsRow extends Omit<PoolStatsEntry, 'model' | 'provider' | 'utilization' | 'health'> {
  utilization_rate: number;
  health_rate: number;
  adapters?: AdapterDetailRow[];
}

function statsRow(e: PoolStatsEntry): StatsRow {
  return {
    total: e.total,
    available: e.available,
    in_use: e.in_use,
    unhealthy: e.unhealthy,
    expired: e.expired,
    max_pool_size: e.max_pool_size,
    min_pool_size: e.min_pool_size,
    checking: e.checking,
    creating: e.creating,
    closing: e.closing,
    waiting: e.waiting,
    create_failures: e.create_failures,
    utilization_rate: percent(e.utilization),
    health_rate: percent(e.health),
  };
}

/** The data of GET /v1/pool/status: the counts, ratios as percentages with one decimal. */
function statusBody(s: PoolStatus): Record<string, number | null> {
  return {
    total_pools: s.total_pools,
    total_adapters: s.total_adapters,
    available_adapters: s.available_adapters,
    in_use_adapters: s.in_use_adapters,
    unhealthy_adapters: s.unhealthy_adapters,
    checking_adapters: s.checking_adapters,
    utilization_rate: percent(s.utilization),
    health_rate: percent(s.health),
    waiting: s.waiting,
    max_total: s.max_total,
  };
}

/** 0..1 -> percent with one decimal (`utilization_rate`, `health_rate`). */
const percent = (ratio: number): number => Math.round(ratio * 1000) / 10;

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

/** One replica in `?scope=cluster`: its numbers and when it last published; `self`: the replica answering. */
function replicaRow(r: ReplicaView, selfId: string) {
  const inUse = Object.values(r.stats.pools).reduce((n, e) => n + e.in_use, 0);
  return {
    id: r.id,
    self: r.id === selfId,
    last_seen: new Date(Date.now() - r.last_seen_ms).toISOString(),
    last_seen_ms_ago: r.last_seen_ms,
    mode: r.mode,
    config_version: r.config_version,
    started_at: new Date(r.started_at).toISOString(),
    pools: r.stats.total_pools,
    in_use_adapters: inUse,
    in_flight: r.circuits.reduce((n, c) => n + c.inFlight, 0),
    open_circuits: r.circuits.filter((c) => c.circuit !== 'closed').map((c) => c.key),
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
    reply.request.log.error({ event: 'pool_endpoint_failed', err }, failed);
    reply.code(500);
    return { success: false, data: null, message: `${failed}: ${err instanceof Error ? err.message : String(err)}` };
  }
}
