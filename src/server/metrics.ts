import { Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { ModelRoute } from '../config/index.js';
import type { AdapterPool } from '../pool/index.js';
import { poolKey } from '../pool/key.js';
import type { DestroyReason, HealthCheckResult, PoolKey, PoolStatsEntry } from '../pool/types.js';
import type { ChatAdapter, Usage } from '../providers/types.js';
import type { Router, RouterEvents } from '../routing/index.js';
import type { Deployment } from '../routing/types.js';

/**
 * Prometheus metrics of one gateway, in its own `Registry` (never prom-client's global one, so a
 * process can run several gateways, e.g. in tests).
 *
 * - Counters and histograms are fed by pool and router events and by the chat route. Every label
 *   child is created once per configured `model:provider` (and per route and status for requests)
 *   and cached; children are plain cells (see `CounterFamily`, `HistogramFamily` below), so an
 *   update on the hot path is a map lookup and a number increment: no label strings are built,
 *   hashed or validated per request.
 * - Gauges are set at scrape time from `pool.stats()`, `pool.details()` and
 *   `router.deploymentHealth()` (see `render()`).
 *
 * Label values come from the config only (gateway model names, upstream model ids, provider
 * names, fixed enums, HTTP status codes, adapter slot numbers below `maxPoolSize`): no request id,
 * user text or key ever becomes a label, so cardinality stays bounded.
 */

export const METRIC_PREFIX = 'adapterpool_';

/** The slice of the pool the metrics read (the gateway passes its `AdapterPool<ChatAdapter>`). */
export type MetricsPool = Pick<AdapterPool<ChatAdapter>, 'on' | 'off' | 'stats' | 'details' | 'healthCheck'>;
export type MetricsRouter = Pick<Router, 'on' | 'off' | 'deploymentHealth'>;

export interface GatewayMetricsOptions {
  pool: MetricsPool;
  router: MetricsRouter;
  /** The configured gateway models (route label values). */
  routes: ReadonlyMap<string, ModelRoute>;
  /** The configured pool keys (model/provider label values). */
  keys: readonly PoolKey[];
  /** Also export Node's process metrics (`process_*`, `nodejs_*`). Default true. */
  processMetrics?: boolean;
}

const DESTROY_REASONS: readonly DestroyReason[] = ['expired_uses', 'expired_idle', 'expired_lifetime', 'unhealthy', 'evicted', 'closed', 'late_create', 'resized', 'renewed', 'removed'];
const FAILOVER_REASONS: ReadonlyArray<RouterEvents['failover']['reason']> = ['error', 'busy', 'circuit_open'];
const CIRCUIT_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

type C = CounterCell;
type H = HistogramCell;

/** Pre-created label children of one `model:provider`, plus plain numbers for the dashboard. */
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
  readonly acquireWait: H;
  readonly latencyCompletion: H;
  readonly latencyStream: H;
  readonly ttft: H;
}

/** Request counter children of one (route, deployment): by status, created on first use. */
interface RequestCell {
  readonly byStatus: Map<number, C>;
  readonly route: string;
  readonly model: string;
  readonly provider: string;
  requests: number;
  ok: number;
}

/** What the chat route reports when a request ends. */
export interface RequestOutcome {
  requestId: string;
  /** The configured gateway model, or undefined when the client asked for an unknown one. */
  route: ModelRoute | undefined;
  /** The deployment that served it (undefined when none did). */
  deployment: Deployment | undefined;
  status: number;
  stream: boolean;
  /** For streams: ms from the first chunk reaching the gateway to the stream's end. */
  streamTailMs?: number;
  /** Upstream calls the router made (0: none reached an upstream). */
  attempts: number;
  /** Streams: the serving attempt's time to first token, ms. */
  ttftMs?: number;
}

/** A pool's current adapters taken together. */
export interface AdapterAggregate {
  adapters: number;
  requests: number;
  finished: number;
  successes: number;
  mean_latency_ms: number;
  /** 0..1; 1 when nothing finished yet. */
  success_rate: number;
}

/** Per-deployment request numbers kept for the dashboard (cumulative since start). */
export interface DeploymentRequestCounts {
  requests: number;
  /** Answered 2xx. */
  ok: number;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly pool: MetricsPool;
  private readonly router: MetricsRouter;
  private readonly byKey = new Map<string, KeyTelemetry>();
  private readonly keyList: KeyTelemetry[] = [];
  private readonly cells = new Map<ModelRoute | undefined, Map<string, RequestCell>>();
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
    poolLatency: Gauge;
    poolSuccess: Gauge;
    adapterLatency: Gauge;
    adapterSuccess: Gauge;
    adapterRequests: Gauge;
    circuit: Gauge;
  };
  private readonly requests: CounterFamily;
  private readonly makeTelemetry: (k: PoolKey) => KeyTelemetry;

  constructor(opts: GatewayMetricsOptions) {
    this.pool = opts.pool;
    this.router = opts.router;
    const registers = [this.registry];
    const p = METRIC_PREFIX;
    const KP = ['model', 'provider'] as const;

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
      utilization: gauge('pool_utilization_ratio', 'In use / total adapters, 0..1 (the seed\'s utilization_rate / 100).'),
      health: gauge('pool_health_ratio', 'Healthy / total adapters, 0..1, 1 when empty (the seed\'s health_rate / 100).'),
      poolLatency: gauge('pool_mean_response_seconds', 'Mean response time over the pool\'s current adapters (weighted by finished requests).'),
      poolSuccess: gauge('pool_success_ratio', 'Success rate over the pool\'s current adapters, 0..1.'),
      adapterLatency: gauge('adapter_mean_response_seconds', 'Mean response time of one adapter (slot = its position in the pool, < maxPoolSize).', [...KP, 'slot']),
      adapterSuccess: gauge('adapter_success_ratio', 'Success rate of one adapter, 0..1.', [...KP, 'slot']),
      adapterRequests: gauge('adapter_requests', 'Requests made by one adapter during its life.', [...KP, 'slot']),
      circuit: gauge('circuit_state', 'Circuit breaker of the deployment: 0 closed, 1 half-open, 2 open.'),
    };

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
    this.requests = counter('requests_total', 'Chat completion requests by gateway model (route; "" when unknown), serving deployment ("" when none) and status: the HTTP status, or for a stream that broke after its headers the status its error maps to (499: the client went away).', ['route', ...KP, 'status']);

    const acquireWait = histogram('pool_acquire_wait_seconds', 'Time a caller waited before getting an adapter (0 when one was idle; timeouts are counted in pool_acquire_timeouts_total).', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
    const upstream = histogram(
      'upstream_latency_seconds',
      'Successful upstream calls: request sent to full response (stream="false") or to the stream\'s end (stream="true").',
      [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300],
      [...KP, 'stream'],
    );
    const ttft = histogram('time_to_first_token_seconds', 'Streams: request sent to the first chunk from upstream.', [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60]);

    const make = (k: PoolKey): KeyTelemetry => {
      const l = [k.model, k.provider] as const;
      // Every child exists from the start (value 0), so rate() works from the first scrape.
      const c = (m: CounterFamily): C => m.child(...l);
      const destroyBy = {} as Record<DestroyReason, C>;
      for (const r of DESTROY_REASONS) destroyBy[r] = destroys.child(...l, r);
      const failoverBy = {} as Record<RouterEvents['failover']['reason'], C>;
      for (const r of FAILOVER_REASONS) failoverBy[r] = failovers.child(...l, r);
      return {
        key: poolKey(k.model, k.provider),
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
        acquireWait: acquireWait.child(...l),
        latencyCompletion: upstream.child(...l, 'false'),
        latencyStream: upstream.child(...l, 'true'),
        ttft: ttft.child(...l),
      };
    };
    this.makeTelemetry = make;
    this.cells.set(undefined, new Map([['', newCell('', '', '')]]));
    this.track(opts.routes, opts.keys);

    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: p });

    this.subscribe();
  }

  /**
   * Pre-build the label children of configured pool keys and the request cells of routes (the
   * "no deployment" row included). A reloaded config calls it again: new keys and routes are added,
   * earlier ones stay (their counters keep counting up, as Prometheus expects).
   */
  track(routes: ReadonlyMap<string, ModelRoute>, keys: readonly PoolKey[]): void {
    for (const k of keys) {
      if (this.byKey.has(`${k.model}:${k.provider}`)) continue;
      const t = this.makeTelemetry(k);
      this.byKey.set(t.key, t);
      this.keyList.push(t);
    }
    for (const route of routes.values()) {
      if (this.cells.has(route)) continue;
      const m = new Map<string, RequestCell>();
      for (const d of route.deployments) m.set(d.key, newCell(route.name, d.model, d.provider));
      m.set('', newCell(route.name, '', ''));
      this.cells.set(route, m);
    }
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
    on('destroyed', (e: { key: string; reason: DestroyReason }) => this.tel(e.key)?.destroys[e.reason]?.inc());
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
      if (e.stream) {
        t?.ttft.observe(e.latencyMs / 1000);
      } else t?.latencyCompletion.observe(e.latencyMs / 1000);
    });
    ron('retry', (e) => this.tel(e.deployment.key)?.retries.inc());
    ron('failover', (e) => this.tel(e.from.key)?.failovers[e.reason].inc());
    ron('circuit_open', (e) => this.tel(e.deployment.key)?.circuitOpens.inc());
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
   * A chat request ended (answered, failed, or its stream finished): counts it. What the router
   * learned (attempts, time to first token) comes with the outcome, from the route's result.
   */
  requestDone(o: RequestOutcome): void {
    const byDeployment = this.cells.get(o.route) ?? this.cells.get(undefined)!;
    const cell = byDeployment.get(o.deployment?.key ?? '') ?? byDeployment.get('')!;
    let child = cell.byStatus.get(o.status);
    if (child === undefined) {
      child = this.requests.child(cell.route, cell.model, cell.provider, String(o.status));
      cell.byStatus.set(o.status, child);
    }
    child.inc();
    cell.requests++;
    if (o.status >= 200 && o.status < 300) cell.ok++;
    if (o.stream && o.deployment !== undefined && o.streamTailMs !== undefined && o.ttftMs !== undefined && o.status < 300) {
      this.tel(o.deployment.key)?.latencyStream.observe((o.ttftMs + o.streamTailMs) / 1000);
    }
  }

  /** Cumulative request counts per deployment key (summed over the routes using it). */
  deploymentRequests(): Map<string, DeploymentRequestCounts> {
    const out = new Map<string, DeploymentRequestCounts>();
    for (const [route, m] of this.cells) {
      if (route === undefined) continue;
      for (const d of route.deployments) {
        const cell = m.get(d.key)!;
        const acc = out.get(d.key) ?? { requests: 0, ok: 0 };
        acc.requests += cell.requests;
        acc.ok += cell.ok;
        out.set(d.key, acc);
      }
    }
    return out;
  }

  /** Mean latency and success rate of a pool over its current adapters (the seed's per-adapter numbers, weighted). */
  adapterAggregate(model: string, provider: string): AdapterAggregate {
    const agg: AdapterAggregate = { adapters: 0, requests: 0, finished: 0, successes: 0, mean_latency_ms: 0, success_rate: 1 };
    let latency = 0;
    for (const row of this.pool.details(model, provider)) {
      const c = row.adapter.counters();
      const finished = c.successes + c.failures;
      agg.adapters++;
      agg.requests += c.requests;
      agg.finished += finished;
      agg.successes += c.successes;
      latency += c.mean_latency_ms * finished;
    }
    if (agg.finished > 0) {
      agg.mean_latency_ms = Math.round((latency / agg.finished) * 100) / 100;
      agg.success_rate = Math.round((agg.successes / agg.finished) * 10_000) / 10_000;
    }
    return agg;
  }

  /** Set the gauges from the pool's and the router's current state. */
  refresh(): void {
    const g = this.gauges;
    for (const m of Object.values(g)) m.reset();
    const stats = this.pool.stats().pools;
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
      let finished = 0;
      let successes = 0;
      let latency = 0;
      this.pool.details(t.model, t.provider).forEach((row, slot) => {
        const c = row.adapter.counters();
        const done = c.successes + c.failures;
        finished += done;
        successes += c.successes;
        latency += c.mean_latency_ms * done;
        const sl = [...l, String(slot)];
        g.adapterLatency.labels(...sl).set(c.mean_latency_ms / 1000);
        g.adapterSuccess.labels(...sl).set(c.success_rate);
        g.adapterRequests.labels(...sl).set(c.requests);
      });
      g.poolLatency.labels(...l).set(finished === 0 ? 0 : latency / finished / 1000);
      g.poolSuccess.labels(...l).set(finished === 0 ? 1 : successes / finished);
    }
    const circuits = new Map(this.router.deploymentHealth().map((h) => [h.key, h.circuit]));
    for (const t of this.keyList) g.circuit.labels(t.model, t.provider).set(CIRCUIT_VALUE[circuits.get(t.key) ?? 'closed']);
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

function newCell(route: string, model: string, provider: string): RequestCell {
  return { byStatus: new Map(), route, model, provider, requests: 0, ok: 0 };
}

/** Token counts for a log line, when the upstream reported them. */
export function tokenCounts(usage: Usage | null | undefined): { prompt: number; completion: number; total: number } | undefined {
  if (usage === undefined || usage === null) return undefined;
  return { prompt: usage.prompt_tokens, completion: usage.completion_tokens, total: usage.total_tokens };
}

// ---------------------------------------------------------------------------------------------
/**
 * Counter and histogram families for the request path. A child is a plain object created once per
 * label set: `inc()` adds to a number and `observe()` bumps one bucket, with no label hashing or
 * validation per call (prom-client's own children hash and validate their labels on every call).
 * The families render through the prom-client `Registry` like any metric, in the same text format.
 */

type Labels = Record<string, string>;

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

export class CounterCell {
  value = 0;
  constructor(readonly labels: Readonly<Labels>) {}
  inc(n = 1): void {
    this.value += n;
  }
}

export class HistogramCell {
  sum = 0;
  count = 0;
  /** counts[i]: observations <= bounds[i] and > bounds[i-1]; the last slot is +Inf. */
  readonly counts: Float64Array;
  constructor(
    readonly labels: Readonly<Labels>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

abstract class Family<Cell extends { labels: Readonly<Labels> }> {
  protected readonly cells: Cell[] = [];
  private readonly byKey = new Map<string, Cell>();
  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The child of these label values, created on first call (call it at setup, not per request). */
  child(...values: string[]): Cell {
    if (values.length !== this.labelNames.length) throw new TypeError(`${this.name}: expected ${this.labelNames.length} label values, got ${values.length}`);
    const key = values.join('\u0000');
    let cell = this.byKey.get(key);
    if (cell === undefined) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]!));
      cell = this.make(labels);
      this.byKey.set(key, cell);
      this.cells.push(cell);
    }
    return cell;
  }

  protected abstract make(labels: Labels): Cell;
  abstract get(): Promise<MetricData>;
  /** `registry.resetMetrics()`: zero every child (they stay cached by their holders). */
  abstract reset(): void;
}

export class CounterFamily extends Family<CounterCell> {
  readonly type = 'counter';
  protected make(labels: Labels): CounterCell {
    return new CounterCell(labels);
  }
  async get(): Promise<MetricData> {
    return { name: this.name, help: this.help, type: 'counter', aggregator: 'sum', values: this.cells.map((c) => ({ labels: c.labels, value: c.value })) };
  }
  reset(): void {
    for (const c of this.cells) c.value = 0;
  }
}

export class HistogramFamily extends Family<HistogramCell> {
  readonly type = 'histogram';
  private readonly bounds: readonly number[];
  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(registry, name, help, labelNames);
    this.bounds = [...buckets].sort((a, b) => a - b);
  }
  protected make(labels: Labels): HistogramCell {
    return new HistogramCell(labels, this.bounds);
  }
  async get(): Promise<MetricData> {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const c of this.cells) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += c.counts[i]!;
        values.push({ labels: { le, ...c.labels }, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', ...c.labels }, value: c.count, metricName: bucket });
      values.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
  reset(): void {
    for (const c of this.cells) {
      c.counts.fill(0);
      c.sum = 0;
      c.count = 0;
    }
  }
}
