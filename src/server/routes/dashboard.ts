import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { ModelRoute } from '../../config/index.js';
import type { DeploymentHealth } from '../../routing/index.js';
import { DASHBOARD_HTML } from '../dashboard/page.js';
import type { GatewayMetrics } from '../metrics.js';
import type { PoolEnvelope } from '../types.js';

export const DEPLOYMENTS_MESSAGES = {
  ok: '获取部署状态成功',
  failed: '获取部署状态失败',
} as const;

export interface DashboardRouteOptions {
  metrics: GatewayMetrics;
  router: { deploymentHealth(): DeploymentHealth[] };
  /** The running config's routes (they change on reload). */
  routes: () => ReadonlyMap<string, ModelRoute>;
  /** Same guard as the `GET /v1/pool/*` endpoints. */
  readAuth: onRequestAsyncHookHandler | undefined;
}

/** One deployment in `GET /v1/pool/deployments`. */
export interface DeploymentRow {
  key: string;
  model: string;
  provider: string;
  weight: number;
  priority: number;
  circuit: DeploymentHealth['circuit'];
  consecutive_failures: number;
  failure_rate: number;
  ewma_latency_ms: number | null;
  in_flight: number;
  retry_after_ms: number | null;
  /** Chat requests this deployment answered, and how many with 2xx (cumulative). */
  requests: number;
  ok: number;
  /** Upstream calls finished by the pool's current adapters (retries and failed attempts included). */
  upstream_calls: number;
  /** Over those calls (the seed's per-adapter numbers, weighted); success_rate is 1 before any call. */
  mean_latency_ms: number;
  success_rate: number;
}

export interface DeploymentsData {
  models: Array<{ name: string; strategy: string; deployments: string[] }>;
  deployments: DeploymentRow[];
}

/**
 * `GET /dashboard`: the live page (public: it holds no data; what it fetches goes through the pool
 * endpoints' auth). `GET /v1/pool/deployments`: circuit state, latency and success per deployment.
 */
export function registerDashboardRoutes(app: FastifyInstance, opts: DashboardRouteOptions): void {
  const { metrics, router } = opts;

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

  app.get('/v1/pool/deployments', { onRequest: opts.readAuth ? [opts.readAuth] : [] }, async (request, reply): Promise<PoolEnvelope<DeploymentsData>> => {
    try {
      const routes = opts.routes();
      const unique = new Map<string, ModelRoute['deployments'][number]>();
      for (const r of routes.values()) for (const d of r.deployments) if (!unique.has(d.key)) unique.set(d.key, d);
      const models = [...routes.values()].map((r) => ({ name: r.name, strategy: r.strategy, deployments: r.deployments.map((d) => d.key) }));
      const health = new Map(router.deploymentHealth().map((h) => [h.key, h]));
      const counts = metrics.deploymentRequests();
      const deployments = [...unique.values()].map((d): DeploymentRow => {
        const h = health.get(d.key);
        const c = counts.get(d.key);
        const a = metrics.adapterAggregate(d.model, d.provider);
        return {
          key: d.key,
          model: d.model,
          provider: d.provider,
          weight: d.weight,
          priority: d.priority,
          circuit: h?.circuit ?? 'closed',
          consecutive_failures: h?.consecutiveFailures ?? 0,
          failure_rate: round4(h?.failureRate ?? 0),
          ewma_latency_ms: h?.ewmaLatencyMs === undefined ? null : round2(h.ewmaLatencyMs),
          in_flight: h?.inFlight ?? 0,
          retry_after_ms: h?.retryAfterMs ?? null,
          requests: c?.requests ?? 0,
          ok: c?.ok ?? 0,
          upstream_calls: a.finished,
          mean_latency_ms: a.mean_latency_ms,
          success_rate: a.success_rate,
        };
      });
      return { success: true, data: { models, deployments }, message: DEPLOYMENTS_MESSAGES.ok };
    } catch (err) {
      request.log.error({ err }, DEPLOYMENTS_MESSAGES.failed);
      reply.code(500);
      return { success: false, data: null, message: `${DEPLOYMENTS_MESSAGES.failed}: ${err instanceof Error ? err.message : String(err)}` };
    }
  });
}

const round2 = (n: number): number => Math.round(n * 100) / 100;
const round4 = (n: number): number => Math.round(n * 10_000) / 10_000;
