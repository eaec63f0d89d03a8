import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { PoolKey } from '../../pool/types.js';
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
  /** The pool's keys now (they change on reload), to split `model:provider` without guessing (model ids may contain ':'). */
  keys: () => readonly PoolKey[];
  /** Guards the GET endpoints (API or admin key when keys are configured). */
  readAuth: onRequestAsyncHookHandler | undefined;
  /** Guards the POST endpoints (the admin rule). */
  adminAuth: onRequestAsyncHookHandler;
}

/** `/v1/pool/*`: stats and status in the seed's envelope, and on-demand cleanup and health check. */
export function registerPoolRoutes(app: FastifyInstance, opts: PoolRouteOptions): void {
  const { pool } = opts;
  const splitKey = (key: string): PoolKey => {
    const known = opts.keys().find((k) => `${k.model}:${k.provider}` === key);
    if (known) return known;
    const i = key.lastIndexOf(':');
    return { model: key.slice(0, i), provider: key.slice(i + 1) };
  };
  const read = opts.readAuth ? [opts.readAuth] : [];

  app.get<{ Querystring: { detail?: string } }>('/v1/pool/stats', { onRequest: read, schema: { querystring: poolStatsQuerySchema } }, async (request, reply) => {
    const detail = request.query.detail === 'true' || request.query.detail === '1';
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

  app.get('/v1/pool/status', { onRequest: read }, async (_request, reply) =>
    envelope(reply, POOL_MESSAGES.status, POOL_MESSAGES.statusFailed, async () => pool.status()),
  );

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
