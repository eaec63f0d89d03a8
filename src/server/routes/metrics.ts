import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { GatewayHttpError } from '../errors.js';
import type { GatewayMetrics } from '../metrics.js';

export interface MetricsRouteOptions {
  metrics: GatewayMetrics;
  /** Same guard as the `GET /v1/pool/*` endpoints (a scraper sends `Authorization: Bearer <key>`). */
  readAuth: onRequestAsyncHookHandler | undefined;
  /** `metrics.enabled` of the running config (off: 404, as if the route did not exist). */
  enabled: () => boolean;
}

/** `GET /metrics`: the Prometheus text exposition of this gateway's registry. */
export function registerMetricsRoutes(app: FastifyInstance, opts: MetricsRouteOptions): void {
  const { metrics } = opts;
  // First, so a disabled endpoint answers 404 before any auth, like a route that does not exist.
  const gate = async (request: FastifyRequest): Promise<void> => {
    if (!opts.enabled()) throw new GatewayHttpError(404, `Unknown request URL: ${request.method} ${request.url.split('?')[0]}.`, 'invalid_request_error', 'unknown_url');
  };
  app.get('/metrics', { onRequest: opts.readAuth ? [gate, opts.readAuth] : [gate] }, async (_request, reply) => {
    const text = await metrics.render();
    return reply.header('cache-control', 'no-store').type(metrics.contentType).send(text);
  });
}
