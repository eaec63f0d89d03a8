import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ModelRoute } from '../../config/index.js';
import type { AdapterPool } from '../../pool/index.js';
import { PoolError } from '../../pool/index.js';
import { poolKey } from '../../pool/key.js';
import type { DestroyReason, HealthCheckResult, PoolKey, PoolStatsEntry } from '../../pool/types.js';
import { ProviderError } from '../../providers/errors.js';
import type { ChatAdapter, Usage } from '../../providers/types.js';
import { DeploymentsAtLimitError, NoDeploymentAvailableError, type Router, type RouterEvents } from '../../routing/index.js';
import type { Deployment } from '../../routing/types.js';
import { CounterFamily, HistogramFamily, type CounterCell as C, type HistogramCell as H } from './families.js';
import { errorClassIndex, History, isFailureStatus, type ErrorClassLabel, type Series, ERROR_CLASSES } from './history.js';

/**
 * Prometheus metrics of one gateway, in its own `Registry` (never prom-client's global one, so a
 * process can run several gateways, e.g. in tests), and the in-memory history the dashboard charts.
 *
 * - Counters and histograms are fed by pool and router events and by the chat route
 *   (`requestDone`). Every label child is created once per configured `model:provider` (and per
 *   model, deployment and status for requests) and cached; children are plain cells (see
 *   `families.ts`), so an update on the request path is a map lookup and a number increment: no
 *   label strings are built, hashed or validated per request.
 * - Gauges are set at scrape time from `pool.stats()` and `router.deploymentHealth()` (`render()`).
 *
 * Label values come from the config only (gateway model names, upstream model ids, provider
 * names, client key names, fixed enums, HTTP status codes) or are fixed placeholders ("none",
 * "unknown", "anonymous"): no request id, user text or key ever becomes a label, so cardinality
 * stays bounded, and no label value is empty.
 */

export const METRIC_PREFIX = 'adapterpool_';
/** `provider` / `upstream_model` of a request no deployment was reached for. */
export const NO_DEPLOYMENT_LABEL = 'none';
/** `model` of a request for a model the config does not have (the client's string is never a label). */
export const UNKNOWN_MODEL_LABEL = 'unknown';
/** `key` of a request made without a named client key. */
export const ANONYMOUS_KEY_LABEL = 'anonymous';

/** The slice of the pool the metrics read (the gateway passes its `AdapterPool<ChatAdapter>`). */
export type MetricsPool = Pick<AdapterPool<ChatAdapter>, 'on' | 'off' | 'stats' | 'details'>;
export type MetricsRouter = Pick<Router, 'on' | 'off' | 'deploymentHealth'>;

export interface GatewayMetricsOptions {
  pool: MetricsPool;
  router: MetricsRouter;
  /** The configured gateway models. */
  routes: ReadonlyMap<string, ModelRoute>;
  /** The configured pool keys (model/provider label values). */
  keys: readonly PoolKey[];
  /** Also export Node's process metrics (prom-client's standard `process_*`, `nodejs_*`). Default true. */
  processMetrics?: boolean;
  /** The dashboard's in-memory history: how far back, and the width of one point (ms). */
  historyWindowMs?: number;
  historyStepMs?: number;
  /** Clock of the history (tests). */
  now?: () => number;
  /** Model requests in flight now (arrived, not yet ended), read at scrape; absent: no such gauge. */
  inFlight?: () => number;
}

export const DEFAULT_HISTORY_WINDOW_MS = 15 * 60_000;
export const DEFAULT_HISTORY_STEP_MS = 5_000;

const DESTROY_REASONS: readonly DestroyReason[] = ['expired_uses', 'expired_idle', 'expired_lifetime', 'unhealthy', 'evicted', 'closed', 'late_create', 'resized', 'renewed', 'removed'];
const FAILOVER_REASONS: ReadonlyArray<RouterEvents['failover']['reason']> = ['error', 'busy', 'circuit_open'];
const CIRCUIT_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

/** Pre-created label children of one `model:provider`. */
interface KeyTelemetry {
  readonly key: string;
  readonly model: string;
  readonly provider: string;
  readonly acquires: C;
  readonly acquireTimeouts: C;
  readonly creates: C;
  readonly createFailures: C;
  readonly destroys: Readonly<Record<DestroyReason, C>>;
  readonly healthy: C;
  readonly unhealthy: C;
  readonly recoveries: C;
  readonly leaks: C;
  readonly retries: C;
  readonly failovers: Readonly<Record<RouterEvents['failover']['reason'], C>>;
  readonly circuitOpens: C;
  /** By index in ERROR_CLASSES. */
  readonly upstreamErrors: readonly C[];
  readonly acquireWait: H;
  readonly latencyCompletion: H;
  readonly latencyStream: H;
  readonly ttft: H;
  /** The deployment's chart. */
  readonly series: Series;
  /** Calls of the key's adapters that are gone (retired, replaced, removed): the totals never go back. */
  readonly retired: RetiredCalls;
}

/** What closed adapters of a key had counted (`AdapterCounters`, summed; latency as a sum of ms). */
export interface RetiredCalls {
  requests: number;
  finished: number;
  successes: number;
  latencySumMs: number;
}

/** Request children of one (gateway model, deployment): created at start, statuses and keys on first use. */
interface RequestCell {
  /** model, upstream_model, provider */
  readonly labels: readonly [string, string, string];
  readonly byStatus: Map<number, C>;
  /** By stream flag: [completion, stream]. */
  readonly duration: readonly [H, H];
  readonly tokens: Map<string, { prompt: C; completion: C }>;
  /** Charts this request feeds: the gateway's, the model's, the deployment's (those that exist). */
  readonly series: readonly Series[];
  /** Cumulative, shared by every cell of the same (model name, deployment) across config reloads. */
  readonly counts: RequestCounts;
}

/** What a model endpoint reports when a request ends (from the route's result, or the trace on its error). */
export interface RequestOutcome {
  /** The configured gateway model, or undefined when the client asked for an unknown one. */
  route: ModelRoute | undefined;
  /** The deployment that served it, or for a failure the last one tried; undefined when none was reached. */
  deployment: Deployment | undefined;
  status: number;
  stream: boolean;
  /** Arrival of the request to its end (a stream's end), ms. */
  durationMs: number;
  /** Upstream calls the router made (0: none reached an upstream). */
  attempts: number;
  /** For streams: ms from the first chunk reaching the gateway to the stream's end. */
  streamTailMs?: number;
  /** Streams: time to first token as the client saw it, request arrival to the first chunk, ms (charted). */
  ttftMs?: number;
  /** Streams: the serving attempt's start to its first event (the router's latency), ms. */
  upstreamTtftMs?: number;
  usage?: Usage | null | undefined;
  /** Name of the client key that made the request; absent: "anonymous". */
  key?: string;
  /** What made it fail, if it did. */
  error?: unknown;
  /** Refused by the client key's own limit (rpm, tpm, maxConcurrent): the client's doing, not a failure of the model. */
  ownLimit?: boolean;
}

/** Cumulative request numbers of one (gateway model, deployment). */
export interface RequestCounts {
  requests: number;
  /** Answered 2xx. */
  ok: number;
  /** Answered 5xx, or 429 for a reason other than the client key's own limit. */
  failed: number;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly history: History;
  private readonly pool: MetricsPool;
  private readonly router: MetricsRouter;
  private readonly byKey = new Map<string, KeyTelemetry>();
  private readonly keyList: KeyTelemetry[] = [];
  /** Errors already counted as failed calls from a router event: not counted again when a request ends with one. */
  private readonly counted = new WeakSet<object>();
  /** By gateway model (a reload brings new route objects: their cells are added), then by deployment key ("" = none reached). */
  private readonly cells = new WeakMap<ModelRoute, Map<string, RequestCell>>();
  private readonly unknownCell: RequestCell;
  /** By model name, then deployment key: what the dashboard shows, kept across reloads. */
  private readonly counts = new Map<string, Map<string, RequestCounts>>();
  private readonly makeTelemetry: (k: PoolKey, key: string) => KeyTelemetry;
  private readonly allSeries: Series;
  private readonly modelSeries = new Map<string, Series>();
  private readonly unsubscribe: Array<() => void> = [];

  private readonly gauges: {
    adapters: Gauge;
    available: Gauge;
    inUse: Gauge;
    unhealthy: Gauge;
    waiters: Gauge;
    maxSize: Gauge;
    utilization: Gauge;
    health: Gauge;
    circuit: Gauge;
  };
  private readonly requests: CounterFamily;
  private readonly duration: HistogramFamily;
  private readonly inFlight: { gauge: Gauge; read: () => number } | undefined;
  private readonly tokens: CounterFamily;

  constructor(opts: GatewayMetricsOptions) {
    this.pool = opts.pool;
    this.router = opts.router;
    this.history = new History({ windowMs: opts.historyWindowMs ?? DEFAULT_HISTORY_WINDOW_MS, stepMs: opts.historyStepMs ?? DEFAULT_HISTORY_STEP_MS, now: opts.now });
    this.allSeries = this.history.add('all');
    const registers = [this.registry];
    const p = METRIC_PREFIX;
    // Pool and deployment series: the upstream id is upstream_model, as on the request series (where model is the gateway model).
    const KP = ['upstream_model', 'provider'] as const;

    const counter = (name: string, help: string, labelNames: readonly string[] = KP) => new CounterFamily(this.registry, p + name, help, labelNames);
    const gauge = (name: string, help: string, labelNames: readonly string[] = KP) => new Gauge({ name: p + name, help, labelNames, registers });
    const histogram = (name: string, help: string, buckets: number[], labelNames: readonly string[] = KP) =>
      new HistogramFamily(this.registry, p + name, help, labelNames, buckets);

    // Pool (per model:provider), set at scrape.
    this.gauges = {
      adapters: gauge('pool_adapters', 'Adapters in the pool (available + in use + unhealthy + being checked).'),
      available: gauge('pool_adapters_available', 'Idle adapters ready to lend.'),
      inUse: gauge('pool_adapters_in_use', 'Adapters lent out.'),
      unhealthy: gauge('pool_adapters_unhealthy', 'Adapters marked unhealthy (not lent until a health check passes).'),
      waiters: gauge('pool_waiters', 'Callers queued for an adapter.'),
      maxSize: gauge('pool_max_size', 'Configured maximum pool size.'),
      utilization: gauge('pool_utilization_ratio', 'In use / total adapters, 0..1 (utilization_rate of GET /v1/pool/stats, / 100).'),
      health: gauge('pool_health_ratio', 'Adapter health: healthy / total adapters, 0..1; adapters a pool whose creates fail lacks count as unhealthy, an empty pool otherwise is 1 (health_rate of GET /v1/pool/stats, / 100). Says nothing of answers: see requests_total and upstream_errors_total.'),
      circuit: gauge('circuit_state', 'Circuit breaker of the deployment: 0 closed, 1 half-open, 2 open.'),
    };

    const readInFlight = opts.inFlight;
    this.inFlight =
      readInFlight === undefined
        ? undefined
        : { gauge: gauge('requests_in_flight', 'Model requests (chat completions, messages, embeddings) arrived and not yet ended, streams included.', []), read: readInFlight };

    const acquires = counter('pool_acquires_total', 'Adapters lent.');
    const acquireTimeouts = counter('pool_acquire_timeouts_total', 'Acquires that timed out waiting for an adapter.');
    const creates = counter('pool_creates_total', 'Adapters created.');
    const createFailures = counter('pool_create_failures_total', 'Adapter creations that failed.');
    const destroys = counter('pool_destroys_total', 'Adapters destroyed, by reason.', [...KP, 'reason']);
    const healthChecks = counter('pool_health_checks_total', 'Adapter health checks, by result (healthy | unhealthy).', [...KP, 'result']);
    const recoveries = counter('pool_recoveries_total', 'Unhealthy adapters that passed a health check again.');
    const leaks = counter('pool_leaks_total', 'Adapters held longer than the leak detection threshold.');
    const retries = counter('retries_total', 'Retries of a failed upstream call on the same deployment.');
    const failovers = counter('failovers_total', 'Requests moved away from a deployment, by reason (error | busy | circuit_open).', [...KP, 'reason']);
    const circuitOpens = counter('circuit_opens_total', 'Times the deployment\'s circuit opened.');
    const upstreamErrors = counter(
      'upstream_errors_total',
      'Failed upstream calls (every attempt, a stream that broke included; a client hanging up is not one), by class: the provider\'s error class, or the gateway\'s own when no call could be made: pool (no adapter), internal. A request with every deployment down (no_deployment) made no call: see requests_total.',
      [...KP, 'class'],
    );
    this.requests = counter(
      'requests_total',
      'Model requests (chat completions, messages, embeddings) by gateway model (model; "unknown" when not configured), the deployment that served it or the last one tried (upstream_model, provider; "none" when none was reached), and status: the HTTP status, or for a stream that broke after its headers the status its error maps to (499: the client went away).',
      ['model', 'upstream_model', 'provider', 'status'],
    );
    this.duration = histogram(
      'request_duration_seconds',
      'Model requests end to end, every outcome: arrival to the last byte (a stream\'s end).',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300],
      ['model', 'upstream_model', 'provider', 'stream'],
    );
    this.tokens = counter('tokens_total', 'Tokens the upstream reported, by gateway model, provider, client key name ("anonymous" without one) and type (prompt | completion).', ['model', 'provider', 'key', 'type']);

    const acquireWait = histogram('pool_acquire_wait_seconds', 'Time a caller waited before getting an adapter (0 when one was idle; timeouts are counted in pool_acquire_timeouts_total).', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
    const upstream = histogram(
      'upstream_latency_seconds',
      'Successful upstream calls: request sent to full response (stream="false") or to the stream\'s end (stream="true").',
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300],
      [...KP, 'stream'],
    );
    const ttft = histogram('time_to_first_token_seconds', 'Streams: request sent to the first chunk from upstream.', [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60]);

    const make = (k: PoolKey, key: string): KeyTelemetry => {
      const l = [k.model, k.provider] as const;
      // Every child exists from the start (value 0), so rate() works from the first scrape.
      const c = (m: CounterFamily): C => m.child(...l);
      const destroyBy = {} as Record<DestroyReason, C>;
      for (const r of DESTROY_REASONS) destroyBy[r] = destroys.child(...l, r);
      const failoverBy = {} as Record<RouterEvents['failover']['reason'], C>;
      for (const r of FAILOVER_REASONS) failoverBy[r] = failovers.child(...l, r);
      return {
        key,
        model: k.model,
        provider: k.provider,
        acquires: c(acquires),
        acquireTimeouts: c(acquireTimeouts),
        creates: c(creates),
        createFailures: c(createFailures),
        destroys: destroyBy,
        healthy: healthChecks.child(...l, 'healthy'),
        unhealthy: healthChecks.child(...l, 'unhealthy'),
        recoveries: c(recoveries),
        leaks: c(leaks),
        retries: c(retries),
        failovers: failoverBy,
        circuitOpens: c(circuitOpens),
        upstreamErrors: ERROR_CLASSES.map((cls) => upstreamErrors.child(...l, cls)),
        acquireWait: acquireWait.child(...l),
        latencyCompletion: upstream.child(...l, 'false'),
        latencyStream: upstream.child(...l, 'true'),
        ttft: ttft.child(...l),
        series: this.history.add(key),
        retired: { requests: 0, finished: 0, successes: 0, latencySumMs: 0 },
      };
    };
    this.makeTelemetry = make;
    this.unknownCell = this.newCell([UNKNOWN_MODEL_LABEL, NO_DEPLOYMENT_LABEL, NO_DEPLOYMENT_LABEL], [this.allSeries], { requests: 0, ok: 0, failed: 0 });
    this.track(opts.routes, opts.keys);

    // prom-client's standard names (no prefix), so the usual Node.js dashboards work as they are.
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry });

    this.subscribe();
  }

  /**
   * Pre-build the label children of configured pool keys and the request cells of routes (the
   * "none reached" row included). A reloaded config calls it again: new keys and routes are added,
   * earlier ones stay (counters keep counting up, as Prometheus expects; charts and the dashboard's
   * numbers carry on by model name and deployment key).
   */
  track(routes: ReadonlyMap<string, ModelRoute>, keys: readonly PoolKey[]): void {
    for (const k of keys) {
      const key = poolKey(k.model, k.provider);
      if (this.byKey.has(key)) continue;
      const t = this.makeTelemetry(k, key);
      this.byKey.set(key, t);
      this.keyList.push(t);
    }
    for (const route of routes.values()) {
      if (this.cells.has(route)) continue;
      let ms = this.modelSeries.get(route.name);
      if (ms === undefined) {
        ms = this.history.add(route.name);
        this.modelSeries.set(route.name, ms);
      }
      let counts = this.counts.get(route.name);
      if (counts === undefined) {
        counts = new Map();
        this.counts.set(route.name, counts);
      }
      const countsOf = (key: string): RequestCounts => {
        let c = counts.get(key);
        if (c === undefined) {
          c = { requests: 0, ok: 0, failed: 0 };
          counts.set(key, c);
        }
        return c;
      };
      const m = new Map<string, RequestCell>();
      for (const d of route.deployments) {
        const t = this.byKey.get(d.key);
        m.set(d.key, this.newCell([route.name, d.model, d.provider], t === undefined ? [this.allSeries, ms] : [this.allSeries, ms, t.series], countsOf(d.key)));
      }
      m.set('', this.newCell([route.name, NO_DEPLOYMENT_LABEL, NO_DEPLOYMENT_LABEL], [this.allSeries, ms], countsOf('')));
      this.cells.set(route, m);
    }
  }

  private newCell(labels: readonly [string, string, string], series: readonly Series[], counts: RequestCounts): RequestCell {
    const [model, upstreamModel, provider] = labels;
    // Children are cached by their labels: a cell rebuilt after a reload continues the same series.
    return {
      labels,
      byStatus: new Map(),
      duration: [this.duration.child(model, upstreamModel, provider, 'false'), this.duration.child(model, upstreamModel, provider, 'true')],
      tokens: new Map(),
      series,
      counts,
    };
  }

  /** The telemetry of a pool key: configured ones are pre-built; others (never by the router) are ignored. */
  private tel(key: string): KeyTelemetry | undefined {
    return this.byKey.get(key);
  }

  private subscribe(): void {
    // The pool's `on` is generic over its event map; the handlers below read only `key` and a field or two.
    const pool = this.pool as unknown as { on(event: string, fn: (e: any) => void): unknown; off(event: string, fn: (e: any) => void): unknown };
    const router = this.router;
    const on = (event: string, fn: (e: any) => void): void => {
      pool.on(event, fn);
      this.unsubscribe.push(() => pool.off(event, fn));
    };
    on('acquired', (e: { key: string; waitedMs: number }) => {
      const t = this.tel(e.key);
      if (t === undefined) return;
      t.acquires.inc();
      t.acquireWait.observe(e.waitedMs / 1000);
    });
    on('timeout', (e: { key: string }) => this.tel(e.key)?.acquireTimeouts.inc());
    on('created', (e: { key: string }) => this.tel(e.key)?.creates.inc());
    on('createFailed', (e: { key: string }) => this.tel(e.key)?.createFailures.inc());
    on('destroyed', (e: { key: string; reason: DestroyReason; adapter?: Partial<Pick<ChatAdapter, 'counters'>> }) => {
      const t = this.tel(e.key);
      if (t === undefined) return;
      t.destroys[e.reason]?.inc();
      // An adapter that goes would take its calls out of the deployment's totals: keep them.
      const c = e.adapter?.counters?.();
      if (c === undefined) return;
      const finished = c.successes + c.failures;
      t.retired.requests += c.requests;
      t.retired.finished += finished;
      t.retired.successes += c.successes;
      t.retired.latencySumMs += c.mean_latency_ms * finished;
    });
    on('recovered', (e: { key: string }) => this.tel(e.key)?.recoveries.inc());
    on('leak', (e: { key: string }) => this.tel(e.key)?.leaks.inc());
    // Health checks by result: the pool emits each run's result once (periodic or on demand).
    on('healthCheck', (e: { result: HealthCheckResult }) => this.countHealthRun(e.result));

    const ron = <E extends keyof RouterEvents>(event: E, fn: (p: RouterEvents[E]) => void): void => {
      router.on(event, fn);
      this.unsubscribe.push(() => router.off(event, fn));
    };
    ron('success', (e) => {
      const t = this.tel(e.deployment.key);
      if (e.stream) t?.ttft.observe(e.latencyMs / 1000);
      else t?.latencyCompletion.observe(e.latencyMs / 1000);
    });
    ron('retry', (e) => {
      this.tel(e.deployment.key)?.retries.inc();
      this.attemptFailed(e.deployment, e.error);
    });
    ron('failover', (e) => {
      this.tel(e.from.key)?.failovers[e.reason].inc();
      if (e.reason === 'error') this.attemptFailed(e.from, e.error);
    });
    ron('circuit_open', (e) => this.tel(e.deployment.key)?.circuitOpens.inc());
  }

  /** One upstream call failed (the request may still succeed elsewhere). */
  private attemptFailed(d: Deployment, error: unknown): void {
    const cls = errorClassOf(error);
    if (cls === undefined) return;
    const t = this.tel(d.key);
    if (t === undefined) return;
    const i = errorClassIndex(cls);
    t.upstreamErrors[i]!.inc();
    t.series.error(this.history.slot(), i);
    if (typeof error === 'object' && error !== null) this.counted.add(error);
  }

  private countHealthRun(r: HealthCheckResult): void {
    for (const [key, row] of Object.entries(r.pools)) {
      const t = this.tel(key);
      if (t === undefined) continue;
      if (row.healthy > 0) t.healthy.inc(row.healthy);
      if (row.unhealthy > 0) t.unhealthy.inc(row.unhealthy);
    }
  }

  /**
   * A request ended (answered, failed, or its stream finished): count it and chart it. What the
   * router learned (attempts, the deployment, time to first token) comes with the outcome.
   */
  requestDone(o: RequestOutcome): void {
    const deployment = o.deployment;
    const upstreamTtftMs = o.upstreamTtftMs ?? -1;
    const byDeployment = o.route === undefined ? undefined : this.cells.get(o.route);
    const cell = byDeployment === undefined ? this.unknownCell : ((deployment === undefined ? undefined : byDeployment.get(deployment.key)) ?? byDeployment.get('')!);
    const status = o.status;
    let child = cell.byStatus.get(status);
    if (child === undefined) {
      child = this.requests.child(...cell.labels, String(status));
      cell.byStatus.set(status, child);
    }
    child.inc();
    cell.duration[o.stream ? 1 : 0].observe(o.durationMs / 1000);
    const counts = cell.counts;
    counts.requests++;
    const ownLimit = o.ownLimit === true;
    if (status >= 200 && status < 300) counts.ok++;
    else if (isFailureStatus(status, ownLimit)) counts.failed++;

    const t = deployment === undefined ? undefined : this.tel(deployment.key);
    // The error that ended the request, unless a router event already counted it as a failed call.
    let errorClass = -1;
    if (o.error !== undefined && status !== 499) {
      const cls = errorClassOf(o.error);
      if (cls !== undefined) {
        errorClass = errorClassIndex(cls);
        if (t !== undefined && o.attempts > 0 && o.error instanceof ProviderError && !this.counted.has(o.error)) {
          t.upstreamErrors[errorClass]!.inc();
          t.series.error(this.history.slot(), errorClass);
        }
      }
    }
    if (o.stream && t !== undefined && o.streamTailMs !== undefined && upstreamTtftMs >= 0 && status < 300) {
      t.latencyStream.observe((upstreamTtftMs + o.streamTailMs) / 1000);
    }
    let prompt = 0;
    let completion = 0;
    const usage = o.usage;
    if (usage !== undefined && usage !== null) {
      prompt = usage.prompt_tokens > 0 ? usage.prompt_tokens : 0;
      completion = usage.completion_tokens > 0 ? usage.completion_tokens : 0;
      const name = o.key ?? ANONYMOUS_KEY_LABEL;
      let tk = cell.tokens.get(name);
      if (tk === undefined) {
        const [model, , provider] = cell.labels;
        tk = { prompt: this.tokens.child(model, provider, name, 'prompt'), completion: this.tokens.child(model, provider, name, 'completion') };
        cell.tokens.set(name, tk);
      }
      if (prompt > 0) tk.prompt.inc(prompt);
      if (completion > 0) tk.completion.inc(completion);
    }
    const slot = this.history.slot();
    const ttftChart = o.stream && status < 300 ? (o.ttftMs ?? upstreamTtftMs) : -1;
    for (const s of cell.series) {
      // The deployment's errors are its failed calls, counted above; the model's and the gateway's are failed requests.
      s.request(slot, status, o.durationMs, ttftChart, s === t?.series ? -1 : errorClass, prompt, completion, ownLimit);
    }
  }

  /** Cumulative request numbers of a gateway model by deployment key ("" = none reached). */
  requestCounts(model: string): ReadonlyMap<string, Readonly<RequestCounts>> | undefined {
    return this.counts.get(model);
  }

  /** Requests for models the config does not have. */
  unknownModelRequests(): number {
    return this.unknownCell.counts.requests;
  }

  /** The chart of the whole gateway, of a gateway model, or of a deployment key. */
  seriesOf(subject: { all: true } | { model: string } | { deployment: string }): Series | undefined {
    if ('all' in subject) return this.allSeries;
    if ('model' in subject) return this.modelSeries.get(subject.model);
    return this.byKey.get(subject.deployment)?.series;
  }

  /** What the closed adapters of `poolKey(model, provider)` had counted (undefined for a key never configured). */
  retiredCalls(key: string): Readonly<RetiredCalls> | undefined {
    return this.byKey.get(key)?.retired;
  }

  /** The pool the metrics read (for the dashboard's per-adapter numbers). */
  get poolView(): MetricsPool {
    return this.pool;
  }

  /** Set the gauges from the pool's and the router's current state. */
  refresh(): void {
    if (this.inFlight !== undefined) this.inFlight.gauge.set(this.inFlight.read());
    const g = this.gauges;
    for (const m of Object.values(g)) m.reset();
    const stats = this.pool.stats().pools;
    const circuits = new Map(this.router.deploymentHealth().map((h) => [h.key, h.circuit]));
    // Keys whose pool is gone (removed by a reload) have no series: a gauge of them would be stale.
    for (const t of this.keyList) {
      const s: PoolStatsEntry | undefined = stats[t.key];
      if (s === undefined) continue;
      const l = [t.model, t.provider] as const;
      g.adapters.labels(...l).set(s.total);
      g.available.labels(...l).set(s.available);
      g.inUse.labels(...l).set(s.in_use);
      g.unhealthy.labels(...l).set(s.unhealthy);
      g.waiters.labels(...l).set(s.waiting);
      g.maxSize.labels(...l).set(s.max_pool_size);
      g.utilization.labels(...l).set(s.utilization);
      g.health.labels(...l).set(s.health);
      g.circuit.labels(...l).set(CIRCUIT_VALUE[circuits.get(t.key) ?? 'closed']);
    }
  }

  /** The Prometheus text exposition, gauges refreshed first. */
  async render(): Promise<string> {
    this.refresh();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stop listening to the pool and the router. */
  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }
}

/** The chart / counter class of an error; undefined when it is nobody's failure (the client hung up, or asked wrong). */
export function errorClassOf(err: unknown): ErrorClassLabel | undefined {
  if (err instanceof ProviderError) return err.errorClass === 'aborted' ? undefined : err.errorClass;
  // Every deployment down, or every one at its own rpm / tpm (a 429 that is the gateway's, not the client's).
  if (err instanceof NoDeploymentAvailableError || err instanceof DeploymentsAtLimitError) return 'no_deployment';
  if (err instanceof PoolError) return err.name === 'AcquireAbortedError' ? undefined : 'pool';
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status < 500) return undefined; // the gateway's answer to the client's mistake
  return 'internal';
}

/** Token counts for a log line, when the upstream reported them. */
export function tokenCounts(usage: Usage | null | undefined): { prompt: number; completion: number; total: number } | undefined {
  if (usage === undefined || usage === null) return undefined;
  return { prompt: usage.prompt_tokens, completion: usage.completion_tokens, total: usage.total_tokens };
}
