import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { PoolStatsEntry, PoolStatus } from '../../pool/types.js';
import { poolStatsQuerySchema } from '../schemas.js';
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
  /** Guards the GET endpoints (API or admin key when keys are configured). */
  readAuth: onRequestAsyncHookHandler | undefined;
  /** Guards the POST endpoints (the admin rule). */
  adminAuth: onRequestAsyncHookHandler;
}

/** `/v1/pool/*`: stats and status in the seed's envelope, and on-demand cleanup and health check. */
export function registerPoolRoutes(app: FastifyInstance, opts: PoolRouteOptions): void {
  const { pool } = opts;
  const read = opts.readAuth ? [opts.readAuth] : [];

  app.get<{ Querystring: { detail?: string } }>('/v1/pool/stats', { onRequest: read, schema: { querystring: poolStatsQuerySchema } }, async (request, reply) => {
    const detail = request.query.detail === 'true' || request.query.detail === '1';
    return envelope(reply, POOL_MESSAGES.stats, POOL_MESSAGES.statsFailed, async () => {
      const stats = pool.stats();
      const pools: Record<string, SeedStatsEntry> = {};
      for (const [key, entry] of Object.entries(stats.pools)) {
        const row = seedStatsEntry(entry);
        if (detail) row.adapters = pool.details(entry.model, entry.provider).map(detailRow);
        pools[key] = row;
      }
      return { total_pools: stats.total_pools, pools };
    });
  });

  app.get('/v1/pool/status', { onRequest: read }, async (_request, reply) =>
    envelope(reply, POOL_MESSAGES.status, POOL_MESSAGES.statusFailed, async () => seedStatus(pool.status())),
  );

  // The POST endpoints take no body, yet many clients send `content-type: application/json` on
  // every call, with nothing after it: an empty body is accepted here (a body, if any, must still parse).
  app.register(async (scope) => {
    const parseJson = scope.getDefaultJsonParser('error', 'ignore');
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

/** One key in GET /v1/pool/stats: the seed's fields, ratios as percentages with one decimal. */
interface SeedStatsEntry extends Omit<PoolStatsEntry, 'model' | 'provider' | 'utilization' | 'health'> {
  utilization_rate: number;
  health_rate: number;
  adapters?: AdapterDetailRow[];
}

function seedStatsEntry(e: PoolStatsEntry): SeedStatsEntry {
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
    utilization_rate: percent(e.utilization),
    health_rate: percent(e.health),
  };
}

function seedStatus(s: PoolStatus): Record<string, number | null> {
  return {
    total_pools: s.total_pools,
    total_adapters: s.total_adapters,
    available_adapters: s.available_adapters,
    in_use_adapters: s.in_use_adapters,
    unhealthy_adapters: s.unhealthy_adapters,
    utilization_rate: percent(s.utilization),
    health_rate: percent(s.health),
    waiting: s.waiting,
    max_total: s.max_total,
  };
}

/** 0..1 -> percent with one decimal (the seed's format). */
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
