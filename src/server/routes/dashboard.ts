import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { ModelRoute } from '../../config/index.js';
import type { DeploymentHealth } from '../../routing/index.js';
import { DASHBOARD_HTML } from '../dashboard/page.js';
import { deploymentsData, historyData, type DeploymentsData, type GatewayMetrics, type HistoryData } from '../metrics.js';
import type { PoolEnvelope } from '../types.js';

export const DEPLOYMENTS_MESSAGES = {
  ok: '获取部署状态成功',
  failed: '获取部署状态失败',
} as const;

export const HISTORY_MESSAGES = {
  ok: '获取历史数据成功',
  failed: '获取历史数据失败',
} as const;

export interface DashboardRouteOptions {
  metrics: GatewayMetrics;
  router: { deploymentHealth(): DeploymentHealth[] };
  /** The running config's routes (they change on reload). */
  routes: () => ReadonlyMap<string, ModelRoute>;
  /** Same guard as the `GET /v1/pool/*` endpoints. */
  readAuth: onRequestAsyncHookHandler | undefined;
}

export type { DeploymentRow, DeploymentsData, HistoryData, ModelRow } from '../metrics.js';

/**
 * `GET /dashboard`: the live page (public: it holds no data; what it fetches goes through the pool
 * endpoints' auth). `GET /v1/pool/deployments`: per model and deployment, requests, errors,
 * circuit state, latency. `GET /v1/pool/history`: the charts' points (the last `metrics.history`).
 */
export function registerDashboardRoutes(app: FastifyInstance, opts: DashboardRouteOptions): void {
  const { metrics, router, routes } = opts;
  const read = opts.readAuth ? [opts.readAuth] : [];

  app.get('/dashboard', async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('content-security-policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
      .send(DASHBOARD_HTML),
  );
  app.get('/dashboard/', async (_request, reply) => reply.redirect('/dashboard'));

  app.get('/v1/pool/deployments', { onRequest: read }, async (request, reply): Promise<PoolEnvelope<DeploymentsData>> =>
    envelope(request, reply, DEPLOYMENTS_MESSAGES, () => deploymentsData(metrics, router.deploymentHealth(), routes())),
  );
  app.get('/v1/pool/history', { onRequest: read }, async (request, reply): Promise<PoolEnvelope<HistoryData>> =>
    envelope(request, reply, HISTORY_MESSAGES, () => historyData(metrics, routes())),
  );
}

function envelope<T>(
  request: { log: { error(obj: unknown, msg?: string): void } },
  reply: { code(status: number): unknown },
  messages: { ok: string; failed: string },
  fn: () => T,
): PoolEnvelope<T> {
  try {
    return { success: true, data: fn(), message: messages.ok };
  } catch (err) {
    request.log.error({ event: 'dashboard_data_failed', err }, messages.failed);
    reply.code(500);
    return { success: false, data: null, message: `${messages.failed}: ${err instanceof Error ? err.message : String(err)}` };
  }
}
