import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { GatewayMetrics } from '../metrics.js';

export interface MetricsRouteOptions {
  metrics: GatewayMetrics;
  /** Same guard as the `GET /v1/pool/*` endpoints (a scraper sends `Authorization: Bearer <key>`). */
  readAuth: onRequestAsyncHookHandler | undefined;
}

/** `GET /metrics`: the Prometheus text exposition of this gateway's registry. */
export function registerMetricsRoutes(app: FastifyInstance, opts: MetricsRouteOptions): void {
  const { metrics } = opts;
  app.get('/metrics', { onRequest: opts.readAuth ? [opts.readAuth] : [] }, async (_request, reply) => {
    const text = await metrics.render();
    return reply.header('cache-control', 'no-store').type(metrics.contentType).send(text);
  });
}
