import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Cluster } from '../cluster/index.js';
import { clientKeys, modelPricing, modelRoutes, poolOptions, routingConfig, toProviderConfig, type GatewayConfig } from '../config/index.js';
import { AdapterPool } from '../pool/index.js';
import { createProviderAdapter } from '../providers/registry.js';
import type { ChatAdapter } from '../providers/types.js';
import { FlexibleLimiter, Router, type Limiter } from '../routing/index.js';
import { createUsageStore, UsageLedger, type UsageStore } from '../usage/index.js';
import { anthropicKey, digest, KeyRing, requireAdmin, requireKey } from './auth.js';
import { errorBody, toErrorReply } from './errors.js';
import { checkProviders, type AdapterFactory } from './check-providers.js';
import { LazyChildLogger } from './lazy-logger.js';
import { LimitMetrics } from './limit-metrics.js';
import { createLogger, unredactedChild } from './logger.js';
import { GatewayMetrics } from './metrics.js';
import { KeyLimits } from './rate-limits.js';
import { registerChatRoutes } from './routes/chat.js';
import { registerDashboardRoutes } from './routes/dashboard.js';
import { registerMetricsRoutes } from './routes/metrics.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerMessagesRoutes } from './routes/messages.js';
import { registerModelRoutes } from './routes/models.js';
import { registerPoolRoutes } from './routes/pool.js';
import { registerUsageRoutes } from './routes/usage.js';
import type { Lifecycle } from './types.js';

export interface GatewayOptions {
  /** pino logger; default: a new one at `config.logging.level`, to stdout. */
  logger?: Logger;
  /** Builds provider adapters; default: the provider registry. */
  createAdapter?: AdapterFactory;
  /** Rate limiter of keys and deployments; default: in-process (`FlexibleLimiter`, one-minute windows). */
  limiter?: Limiter;
  /** Usage ledger store; default: from `config.usage` (SQLite file, or PostgreSQL). */
  usageStore?: UsageStore;
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly pool: AdapterPool<ChatAdapter>;
  readonly router: Router;
  /** Prometheus registry and dashboard numbers of this gateway. */
  readonly metrics: GatewayMetrics;
  readonly config: GatewayConfig;
  readonly logger: Logger;
  /** Shared state with the other replicas (config `cluster.redis`); absent in a single process. */
  readonly cluster: Cluster | undefined;
  /** Rate limiter of keys and deployments. */
  readonly limiter: Limiter;
  /** The usage ledger (undefined with `usage.enabled: false`). */
  readonly ledger: UsageLedger | undefined;
  /** Bind where the config says (or the overrides); resolves with the address, e.g. `http://127.0.0.1:8080`. */
  listen(overrides?: { host?: string; port?: number }): Promise<string>;
  /**
   * Graceful stop: refuse new requests, let in-flight ones finish for up to `timeoutMs`
   * (default `server.shutdownTimeout`), cut what remains, then close the router and the pools.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** Build the gateway: pools started, routes registered, not yet listening. */
export async function buildGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logging.level);
  const factory = options.createAdapter ?? createProviderAdapter;
  const providers = new Map(Object.entries(config.providers).map(([name, p]) => [name, toProviderConfig(name, p)]));
  const routes = modelRoutes(config);
  checkProviders(config, factory, logger);

  const lifecycle: Lifecycle = { state: 'starting' };
  const poolLogger = logger.child({ component: 'pool' });
  const popts = poolOptions(config);
  const pool = new AdapterPool<ChatAdapter>({
    ...popts,
    createAdapter: async ({ model, provider }) => factory(providers.get(provider)!, model, { logger: poolLogger }),
    logger: poolLogger,
    // With replicas, one of them runs each scheduled round (circuits then tell the others).
    scheduledHealthCheckGate: (): Promise<boolean> | boolean => cluster?.healthCheckGate(popts.healthCheckIntervalMs ?? config.pool.healthCheckInterval) ?? true,
  });
  const routing = routingConfig(config);
  const router = new Router({ pool, routing, logger: logger.child({ component: 'router' }) });

  const startedAt = Date.now();
  const deploymentKeys = [...new Set([...routes.values()].flatMap((r) => r.deployments.map((d) => d.key)))];
  const cluster: Cluster | undefined =
    config.cluster.redis === undefined
      ? undefined
      : new Cluster({
          config: config.cluster,
          router,
          cooldownMs: routing.circuitCooldownMs,
          deploymentKeys: () => deploymentKeys,
          snapshot: () => ({
            started_at: startedAt,
            config_version: null,
            stats: pool.stats(),
            circuits: router.deploymentHealth().map((h) => ({ key: h.key, circuit: h.circuit, inFlight: h.inFlight })),
          }),
          logger: logger.child({ component: 'cluster' }),
        });

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request lines cost on the hot path; `logging.level: debug` adds one line per response instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.server.bodyLimit,
    keepAliveTimeout: config.server.keepAliveTimeout,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    requestIdHeader: 'x-request-id',
    childLoggerFactory: (parent, bindings, opts) => new LazyChildLogger(parent as Logger, bindings, opts),
    // Validate without rewriting the body: no coercion, no removed or defaulted fields.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
  });

  app.setErrorHandler((err, request, reply) => {
    const r = toErrorReply(err);
    if (r.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ err, status: r.status }, 'request rejected');
    if (r.retryAfterSeconds !== undefined) reply.header('retry-after', String(r.retryAfterSeconds));
    if (r.headers !== undefined) reply.headers(r.headers);
    return reply.code(r.status).send(r.body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(`Unknown request URL: ${request.method} ${request.url.split('?')[0]}.`, 'invalid_request_error', 'unknown_url')),
  );
  if (logger.isLevelEnabled('debug')) {
    app.addHook('onResponse', async (request, reply) => {
      request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request done');
    });
  }

  const ring = new KeyRing(clientKeys(config, digest), config.auth.adminKey);
  app.decorateRequest('clientKey', undefined);
  app.decorateRequest('isAdmin', false);
  const apiAuth = requireKey(ring);
  const readAuth = requireKey(ring, { admin: true });
  // With replicas the limits hold across the fleet (counters in Redis).
  const limiter = options.limiter ?? cluster?.createLimiter() ?? new FlexibleLimiter();
  const ledger = config.usage.enabled
    ? new UsageLedger(options.usageStore ?? createUsageStore(config.usage), {
        batchSize: config.usage.batchSize,
        flushIntervalMs: config.usage.flushInterval,
        maxBuffer: config.usage.maxBuffer,
        retentionDays: config.usage.retentionDays,
        pruneIntervalMs: config.usage.pruneInterval,
        logger: logger.child({ component: 'usage' }),
      })
    : undefined;
  registerHealthRoutes(app, lifecycle);
  registerModelRoutes(app, [...routes.keys()], apiAuth);
  const metrics = new GatewayMetrics({ pool, router, routes, keys: popts.keys ?? [], processMetrics: config.metrics.processMetrics, historyWindowMs: config.metrics.history, historyStepMs: config.metrics.historyStep });
  if (cluster !== undefined) cluster.registerMetrics(metrics.registry);
  const limitMetrics = new LimitMetrics(metrics.registry, ring.keys, ledger);
  const keyLimits = new KeyLimits({ limiter, defaultMaxTokens: config.limits.defaultMaxTokens, onLimited: (k, reason) => limitMetrics.keyRateLimited(k, reason) });
  // Every response of a limited key carries its x-ratelimit-* headers (the chat route sets them
  // from its admission; streams write theirs with the SSE head).
  if (ring.keys.some((k) => k.rpm !== undefined || k.tpm !== undefined)) app.addHook('onSend', async (request, reply) => {
    if (request.clientKey === undefined || reply.hasHeader('x-ratelimit-limit-requests') || reply.hasHeader('x-ratelimit-limit-tokens')) return;
    const h = await keyLimits.headers(request.clientKey);
    if (h !== undefined) reply.headers(h);
  });
  // Every model endpoint shares the request's bookkeeping: metrics and log line, key limits, ledger.
  const lifecycleDeps = {
    telemetry: { metrics, logPrompts: config.logging.logPrompts, log: unredactedChild(logger) },
    keyLimits,
    ...(ledger === undefined ? {} : { usage: { ledger, pricing: modelPricing(config) } }),
  };
  await app.register(async (chat) => {
    // Why the chat route may skip the body parser's __proto__ / constructor.prototype scan (~1-3 µs per
    // request): that scan guards code that merges a parsed body into an existing object. The chat body
    // is only read and spread into a new object for the upstream, never merged, and JSON.parse itself
    // makes "__proto__" an own data property, not the prototype. Other routes keep fastify's default.
    chat.removeContentTypeParser('application/json');
    chat.addContentTypeParser('application/json', { parseAs: 'string' }, chat.getDefaultJsonParser('ignore', 'ignore'));
    registerChatRoutes(chat, { router, routes, auth: apiAuth, ...lifecycleDeps });
  });
  // Anthropic's SDK sends its key as x-api-key: the same gateway keys, read from there too.
  registerMessagesRoutes(app, { router, routes, routing, auth: requireKey(ring, { token: anthropicKey }), ...lifecycleDeps });
  if (ledger !== undefined) registerUsageRoutes(app, { ledger, auth: readAuth });
  registerPoolRoutes(app, { pool, readAuth, adminAuth: requireAdmin(config.auth.adminKey, config.server.host), fleet: cluster });
  if (config.metrics.enabled) registerMetricsRoutes(app, { metrics, readAuth });
  registerDashboardRoutes(app, { metrics, router, routes, readAuth });

  await pool.start();
  await ledger?.start();
  cluster?.start();
  await app.ready();
  lifecycle.state = 'ready';

  let closing: Promise<void> | undefined;
  const close = (timeoutMs = config.server.shutdownTimeout): Promise<void> =>
    (closing ??= (async () => {
      lifecycle.state = 'closing';
      const deadline = setTimeout(() => {
        logger.warn({ timeoutMs }, 'shutdown deadline reached: closing the remaining connections');
        app.server.closeAllConnections();
      }, timeoutMs);
      try {
        await app.close();
      } finally {
        clearTimeout(deadline);
        metrics.close();
        await cluster?.close();
        router.close();
        await pool.close();
        await ledger?.close();
        if (options.limiter === undefined) limiter.close(); // an injected (shared) limiter is its owner's
        logger.flush();
      }
    })());

  return {
    app,
    pool,
    router,
    metrics,
    config,
    logger,
    cluster,
    limiter,
    ledger,
    close,
    listen: async (overrides = {}) =>
      app.listen({ host: overrides.host ?? config.server.host, port: overrides.port ?? config.server.port, listenTextResolver: (address) => `listening on ${address}` }),
  };
}
