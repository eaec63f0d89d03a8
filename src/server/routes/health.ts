import type { FastifyInstance } from 'fastify';
import { GatewayHttpError } from '../errors.js';
import type { Lifecycle } from '../types.js';

/** `GET /health`: the process is alive. `GET /ready`: config loaded and pools started, not shutting down. */
export function registerHealthRoutes(app: FastifyInstance, lifecycle: Lifecycle): void {
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async () => {
    if (lifecycle.state !== 'ready') {
      throw new GatewayHttpError(503, `The gateway is not ready (${lifecycle.state}).`, 'service_unavailable_error', lifecycle.state === 'closing' ? 'shutting_down' : 'starting', null, 1000);
    }
    return { status: 'ready' };
  });
}
