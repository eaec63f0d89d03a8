import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Cluster } from '../cluster/index.js';
import { applyOverrides, deploymentLimits as configDeploymentLimits, poolOptions, type ConfigOverrides, type GatewayConfig, type ModelRoute } from '../config/index.js';
import { AdapterPool } from '../pool/index.js';
import { createProviderAdapter } from '../providers/registry.js';
import type { ChatAdapter } from '../providers/types.js';
import { DeploymentLimiter, FlexibleLimiter, Router, type Limiter } from '../routing/index.js';
import { createUsageStore, UsageLedger, type UsageStore } from '../usage/index.js';
import { isLoopbackHost } from './auth.js';
import { depthChecked } from './edge.js';
import { OpenRequests } from './open-requests.js';
import { shutdown } from './shutdown.js';
import { checkProviders, type AdapterFactory } from './check-providers.js';
import { LimitMetrics } from './limit-metrics.js';
import { createLogger, unredactedChild } from './logger.js';
import { GatewayMetrics } from './metrics.js';
import { KeyLimits } from './rate-limits.js';
import { registerChatRoutes } from './routes/chat.js';
import { registerDashboardRoutes } from './routes/dashboard.js';
import { registerEmbeddingsRoutes } from './routes/embeddings.js';
import { registerMetricsRoutes } from './routes/metrics.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerMessagesRoutes } from './routes/messages.js';
import { registerModelRoutes } from './routes/models.js';
import { registerPoolRoutes } from './routes/pool.js';
import { registerUsageRoutes } from './routes/usage.js';
import { registerAdminRoutes } from './routes/admin.js';
import { createHttpApp } from './http-app.js';
import { ConfigReloader, type ReloadResult, type ReloadTrigger } from './live/reloader.js';
import { buildSnapshot, ConfigHolder, type GatewaySnapshot } from './live/snapshot.js';
import { liveHook } from './live/hooks.js';
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
  /** The file `config` was loaded from: `reload()` (SIGHUP, the admin endpoint, --watch) reads it again. */
  configFile?: string;
  /** Variables for `${VAR}` at reload (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Command-line settings (`serve --port`, `--log-format`): applied over `config` now and over the file at each reload. */
  overrides?: ConfigOverrides;
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly pool: AdapterPool<ChatAdapter>;
  readonly router: Router;
  /** Prometheus registry and dashboard numbers of this gateway. */
  readonly metrics: GatewayMetrics;
  /** The running config (the current snapshot's; changes on reload). */
  readonly config: GatewayConfig;
  /** The running config with its version and load time; routes read `live.current` once per request. */
  readonly live: ConfigHolder;
  readonly reloader: ConfigReloader;
  /** Read the config file again and apply it (see ConfigReloader). */
  reload(trigger?: ReloadTrigger): Promise<ReloadResult>;
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
export async function buildGateway(fileConfig: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const config = applyOverrides(fileConfig, options.overrides);
  const logger = options.logger ?? createLogger(config.logging.level, undefined, { format: config.logging.format, flushIntervalMs: config.logging.flushInterval });
  const factory = options.createAdapter ?? createProviderAdapter;
  checkProviders(config, factory, logger);
  const host = config.server.host;
  const live = new ConfigHolder(buildSnapshot(config, 1, host));

  const lifecycle: Lifecycle = { state: 'starting' };
  const poolLogger = logger.child({ component: 'pool' });
  const popts = poolOptions(config);
  const pool = new AdapterPool<ChatAdapter>({
    ...popts,
    // Reads the holder's provider settings at each create: after a reload, new adapters get the new ones.
    createAdapter: async ({ model, provider }) => {
      const p = live.providers.get(provider);
      if (p === undefined) throw new Error(`provider "${provider}" is no longer configured`);
      return factory(p, model, { logger: poolLogger });
    },
    logger: poolLogger,
    // With replicas, one of them runs each scheduled round (circuits then tell the others).
    scheduledHealthCheckGate: (): Promise<boolean> | boolean => cluster?.healthCheckGate(popts.healthCheckIntervalMs ?? config.pool.healthCheckInterval) ?? true,
  });
  const routerLogger = logger.child({ component: 'router' });
  /** The per-request chat line's logger. */
  const chatLog = unredactedChild(logger);
  // Per-deployment rpm / tpm through the router's admission port. The limiter behind it is built
  // below (it may be the cluster's); an unlimited deployment answers at once, without a promise.
  const deploymentLimits: { limiter?: DeploymentLimiter } = {};
  const router = new Router({
    pool,
    routing: live.current.routing,
    logger: routerLogger,
    admission: { admit: (d, request) => deploymentLimits.limiter?.admit(d, request) ?? true },
  });
  // Every configured deployment has a circuit from the start: a health check may open it before any request.
  const registerDeployments = (routes: ReadonlyMap<string, ModelRoute>): void => {
    for (const r of routes.values()) router.register(r.deployments);
  };
  registerDeployments(live.current.routes);

  const startedAt = Date.now();
  // Loaded only with replicas configured: a single process never pays the Redis client's memory.
  const cluster: Cluster | undefined =
    config.cluster.redis === undefined
      ? undefined
      : new (await import('../cluster/index.js')).Cluster({
          config: config.cluster,
          router,
          cooldownMs: live.current.routing.circuitCooldownMs,
          // The running config's deployments (they change on reload).
          deploymentKeys: () => [...live.current.poolKeys],
          snapshot: () => ({
            started_at: startedAt,
            config_version: live.current.version,
            stats: pool.stats(),
            circuits: router.deploymentHealth().map((h) => ({ key: h.key, circuit: h.circuit, inFlight: h.inFlight })),
          }),
          logger: logger.child({ component: 'cluster' }),
        });

  const { app, capConnections, maxJsonDepth } = createHttpApp(config, logger, live, lifecycle);
  // Auth follows the running config: each hook reads the current snapshot's rule.
  const readAuth = liveHook(live, 'readAuth');
  const adminAuth = liveHook(live, 'adminAuth');
  const routes = live.current.routes;
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
  registerModelRoutes(app, live);
  // The model endpoints' requests in flight: the shutdown cuts and waits for them, /metrics counts them.
  const open = new OpenRequests();
  const metrics = new GatewayMetrics({
    pool,
    router,
    routes,
    keys: popts.keys ?? [],
    processMetrics: config.metrics.processMetrics,
    historyWindowMs: config.metrics.history,
    historyStepMs: config.metrics.historyStep,
    inFlight: () => open.size,
  });
  if (cluster !== undefined) cluster.registerMetrics(metrics.registry);
  const limitMetrics = new LimitMetrics(metrics.registry, live.current.ring.keys, ledger);
  const keyLimits = new KeyLimits({
    limiter,
    // A getter: `limits.defaultMaxTokens` follows reloads.
    get defaultMaxTokens() {
      return live.current.config.limits.defaultMaxTokens;
    },
    onLimited: (k, reason) => limitMetrics.keyRateLimited(k, reason),
  });
  const deploymentLimiter = new DeploymentLimiter({
    limiter,
    // Getters: the limits follow reloads.
    limits: () => deploymentLimitsOf(live.current.config),
    defaultMaxTokens: () => live.current.config.limits.defaultMaxTokens,
    onLimited: (d) => limitMetrics.deploymentRateLimited(d.model, d.provider),
  });
  deploymentLimits.limiter = deploymentLimiter;
  // Every response of a limited key carries its x-ratelimit-* headers (the chat route sets them
  // from its admission; streams write theirs with the SSE head). Registered whatever the keys now:
  // a reload may add limits; without limited keys it returns at once, without a promise.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.clientKey === undefined || !live.current.rateLimitedKeys || reply.hasHeader('x-ratelimit-limit-requests') || reply.hasHeader('x-ratelimit-limit-tokens')) {
      done(null, payload);
      return;
    }
    keyLimits.headers(request.clientKey).then(
      (h) => {
        if (h !== undefined) reply.headers(h);
        done(null, payload);
      },
      (err: Error) => done(err),
    );
  });
  // Every model endpoint shares the request's bookkeeping: metrics and log line, key limits, ledger.
  const lifecycleDeps = {
    // logPrompts and pricing here are the start's; each request reads its own config's (request.liveConfig).
    telemetry: { metrics, logPrompts: config.logging.logPrompts, log: chatLog },
    keyLimits,
    deploymentLimits: deploymentLimiter,
    open,
    ...(ledger === undefined ? {} : { usage: { ledger, pricing: live.current.pricing } }),
  };
  await app.register(async (chat) => {
    // Why the chat route may skip the body parser's __proto__ / constructor.prototype scan (~1-3 µs per
    // request): that scan guards code that merges a parsed body into an existing object. The chat body
    // is only read and spread into a new object for the upstream, never merged, and JSON.parse itself
    // makes "__proto__" an own data property, not the prototype. Other routes keep fastify's default.
    chat.removeContentTypeParser('application/json');
    chat.addContentTypeParser('application/json', { parseAs: 'string' }, depthChecked(chat.getDefaultJsonParser('ignore', 'ignore'), maxJsonDepth));
    registerChatRoutes(chat, { router, live, ...lifecycleDeps });
  });
  // Anthropic's SDK sends its key as x-api-key: the same gateway keys, read from there too.
  registerMessagesRoutes(app, { router, pool, live, ...lifecycleDeps });
  registerEmbeddingsRoutes(app, { call: (route, fn, o, estimate) => router.routeCall(route, fn, o, estimate), live, ...lifecycleDeps });
  registerUsageRoutes(app, { ledger, auth: readAuth });
  registerPoolRoutes(app, { pool, readAuth, adminAuth, fleet: cluster });
  registerMetricsRoutes(app, { metrics, readAuth, enabled: () => live.current.config.metrics.enabled });
  registerDashboardRoutes(app, { metrics, router, routes: () => live.current.routes, readAuth });

  const reloader = new ConfigReloader({
    holder: live,
    pool,
    logger,
    file: options.configFile,
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.overrides === undefined ? {} : { overrides: options.overrides }),
    factory,
    host,
    registry: metrics.registry,
    // The adapters a reload creates for new pools are counted (pool_creates_total): their keys are known first.
    beforePools: (next) => metrics.track(next.routes, [...next.poolKeys].map((k) => keyOf(next, k))),
    beforeSwap: (next) => applyToGateway(next),
    afterDrain: (key) => router.forget(key),
  });
  registerAdminRoutes(app, { live, reloader, adminAuth });

  /** The parts of the gateway outside the pool that hold settings: they take the new snapshot's. */
  const applyToGateway = (next: GatewaySnapshot): void => {
    const c = next.config;
    // A pino child keeps the level it was made with: set the long-lived ones too (request loggers are
    // made per request, from fastify's own child of `logger`, `app.log`).
    for (const l of [logger, app.log, poolLogger, routerLogger, chatLog, reloader.logger]) if (l.level !== c.logging.level) l.level = c.logging.level;
    app.server.keepAliveTimeout = c.server.keepAliveTimeout;
    capConnections(c.server.maxConnections);
    router.configure(next.routing);
    registerDeployments(next.routes);
  };

  await pool.start();
  await ledger?.start();
  cluster?.start();
  await app.ready();
  lifecycle.state = 'ready';

  let closing: Promise<void> | undefined;
  const close = (timeoutMs = live.current.config.server.shutdownTimeout): Promise<void> =>
    (closing ??= shutdown(
      {
        app,
        lifecycle,
        logger,
        open,
        reloader,
        settleMs: live.current.config.pool.closeTimeout,
        metrics,
        cluster,
        router,
        pool,
        ledger,
        // An injected (shared) limiter is its owner's to close.
        ownLimiter: options.limiter === undefined ? limiter : undefined,
      },
      timeoutMs,
    ));

  return {
    app,
    pool,
    router,
    metrics,
    get config() {
      return live.current.config;
    },
    live,
    reloader,
    reload: (trigger = 'api') => reloader.reload(trigger),
    logger,
    cluster,
    limiter,
    ledger,
    close,
    listen: async (overrides = {}) => {
      const host = overrides.host ?? config.server.host;
      const address = await app.listen({ host, port: overrides.port ?? config.server.port, listenTextResolver: (a) => `listening on ${a}` });
      if (!isLoopbackHost(host) && config.auth.apiKeys.length === 0 && (config.auth.keys ?? []).length === 0) {
        logger.warn(
          { event: 'open_relay', host },
          `server.host is ${host} and no API keys are configured (auth.apiKeys, auth.keys): anyone who can reach this address can use the gateway and its provider keys. Set auth.apiKeys, or bind 127.0.0.1.`,
        );
      }
      return address;
    },
  };
}

function keyOf(s: GatewaySnapshot, key: string): { model: string; provider: string } {
  for (const r of s.routes.values()) for (const d of r.deployments) if (d.key === key) return { model: d.model, provider: d.provider };
  throw new Error(`no deployment for pool ${key}`);
}

/** Deployment limits by pool key, computed once per config (a reload brings a new config object). */
const limitsByConfig = new WeakMap<GatewayConfig, ReturnType<typeof configDeploymentLimits>>();
function deploymentLimitsOf(config: GatewayConfig): ReturnType<typeof configDeploymentLimits> {
  let m = limitsByConfig.get(config);
  if (m === undefined) {
    m = configDeploymentLimits(config);
    limitsByConfig.set(config, m);
  }
  return m;
}
