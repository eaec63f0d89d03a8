import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { OpenRequests } from './open-requests.js';
import { cutStreams } from './sse.js';
import type { Lifecycle } from './types.js';

/** What a graceful stop closes; the parts after the HTTP side close in this order. */
export interface ShutdownParts {
  app: FastifyInstance;
  lifecycle: Lifecycle;
  logger: Logger;
  /** The model endpoints' requests in flight. */
  open: OpenRequests;
  /** Stops the config reloads (file watch, signal). */
  reloader: { close(): void };
  /** How long requests whose connection is gone may still take to end (`pool.closeTimeout`). */
  settleMs: number;
  metrics: { close(): void };
  cluster: { close(): Promise<void> } | undefined;
  router: { close(): void };
  pool: { close(): Promise<void> };
  ledger: { close(): Promise<void> } | undefined;
  /** The rate limiter, when the gateway made it. */
  ownLimiter: { close(): void } | undefined;
}

/**
 * Graceful stop: refuse new requests (503 shutting_down), let in-flight ones finish for up to
 * `timeoutMs`, then cut what remains: requests still waiting for their answer are answered 503, open
 * streams get an error event, the connections close. Then the rest closes, the ledger last, so every
 * request that ended has its row written.
 */
export async function shutdown(p: ShutdownParts, timeoutMs: number): Promise<void> {
  const { app, logger, open } = p;
  p.lifecycle.state = 'closing';
  p.reloader.close();
  const deadline = setTimeout(() => {
    app.shutdownCut = true;
    // Requests still waiting for their answer give the wait up and are answered 503 shutting_down
    // (a queued one no longer starts a stream on an adapter a cut stream frees); streams get an error event.
    const requests = open.cutWaiting();
    const streams = cutStreams(app.server);
    logger.warn(
      { event: 'shutdown_deadline', timeoutMs, requests, streams },
      'shutdown deadline reached: answering waiting requests with 503, ending open streams with an error event, closing the remaining connections',
    );
    // Let those answers and last events reach their clients before the sockets go.
    if (requests + streams > 0) setTimeout(() => app.server.closeAllConnections(), 100).unref();
    else app.server.closeAllConnections();
  }, timeoutMs);
  // server.close() closes the connections idle at that moment only; a kept-alive connection whose
  // request finishes later would hold the shutdown until the deadline.
  const sweep = setInterval(() => app.server.closeIdleConnections(), 250);
  try {
    await app.close();
  } finally {
    clearTimeout(deadline);
    clearInterval(sweep);
    // Requests whose connection is gone may still be ending (their upstream call being aborted):
    // their log line, metrics and ledger row come before the ledger's last write.
    await open.settled(p.settleMs);
    p.metrics.close();
    await p.cluster?.close();
    p.router.close();
    await p.pool.close();
    await p.ledger?.close();
    p.ownLimiter?.close();
    logger.flush();
  }
}
