import type { ModelRoute } from '../../config/index.js';
import { poolKey } from '../../pool/key.js';
import type { DeploymentHealth } from '../../routing/index.js';
import type { GatewayMetrics, RequestCounts } from './gateway-metrics.js';
import type { SeriesView, WindowTotals } from './history.js';

/**
 * The numbers the dashboard shows, from the metrics' request cells, the pool's adapters, the
 * router's circuits and the in-memory history. A deployment can serve several gateway models: what
 * belongs to the model (its requests, priority, weight) is per (model, deployment) row; what
 * belongs to the deployment (its circuit, pool, adapters) is the same in each of its rows, and the
 * row says which other models share it.
 */

/** A pool's adapters taken together (each adapter's own numbers), closed ones' calls included. */
export interface AdapterAggregate {
  /** Current adapters. */
  adapters: number;
  requests: number;
  finished: number;
  successes: number;
  mean_latency_ms: number;
  /** 0..1; 1 when nothing finished yet. */
  success_rate: number;
}

/** One adapter's latency percentiles, for the pool cards. */
export interface AdapterLatency {
  id: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
}

/** One deployment of one gateway model in `GET /v1/pool/deployments`. */
export interface DeploymentRow {
  key: string;
  /** The gateway model this row belongs to. */
  gateway_model: string;
  /** Other gateway models that list the same deployment (they share its circuit, pool and adapters). */
  shared_with: string[];
  model: string;
  provider: string;
  /** This model's entry: */
  weight: number;
  priority: number;
  /** Chat requests of this model this deployment answered or failed last, and how many with 2xx / 5xx or 429 (cumulative). */
  requests: number;
  ok: number;
  failed: number;
  /** The deployment's own state (shared by its models): */
  circuit: DeploymentHealth['circuit'];
  consecutive_failures: number;
  failure_rate: number;
  ewma_latency_ms: number | null;
  in_flight: number;
  retry_after_ms: number | null;
  /** The last failure that counted against the circuit (`401 auth: …`); null before any. */
  last_failure: string | null;
  /** Upstream calls finished (answered or failed) by the pool's adapters, retries included; a call its client abandoned is left out. */
  upstream_calls: number;
  /** Over those calls (each adapter's own numbers, weighted by its calls); success_rate is 1 before any call. */
  mean_latency_ms: number;
  success_rate: number;
  /** Requests this deployment served or failed in the history window: p50 / p95 end to end, error rate. */
  window: WindowTotals;
  adapters: AdapterLatency[];
}

export interface ModelRow {
  name: string;
  strategy: string;
  /** Deployment keys, in config order. */
  deployments: string[];
  /** Cumulative since start, every outcome, those no deployment was reached for included. */
  requests: number;
  ok: number;
  failed: number;
  /** failed / requests, 0..1. */
  error_rate: number;
  /** Requests that reached no deployment (every one down or busy). */
  unrouted: number;
  /** The history window. */
  window: WindowTotals;
}

export interface DeploymentsData {
  models: ModelRow[];
  deployments: DeploymentRow[];
  /** The gateway as a whole over the history window. */
  window: WindowTotals;
  window_ms: number;
  /** Requests for a model the config does not have (cumulative). */
  unknown_model_requests: number;
}

export interface HistoryData {
  step_ms: number;
  window_ms: number;
  /** Slot start times (ms since the epoch), oldest first. */
  times: number[];
  all: SeriesView;
  models: Record<string, SeriesView>;
  deployments: Record<string, SeriesView>;
}

const NO_COUNTS: RequestCounts = { requests: 0, ok: 0, failed: 0 };

export function deploymentsData(metrics: GatewayMetrics, health: readonly DeploymentHealth[], routes: ReadonlyMap<string, ModelRoute>): DeploymentsData {
  const byKey = new Map(health.map((h) => [h.key, h]));
  const modelsOf = new Map<string, string[]>();
  for (const r of routes.values()) for (const d of r.deployments) modelsOf.set(d.key, [...(modelsOf.get(d.key) ?? []), r.name]);
  const history = metrics.history;
  const shared = new Map<string, Pick<DeploymentRow, 'circuit' | 'consecutive_failures' | 'failure_rate' | 'ewma_latency_ms' | 'in_flight' | 'retry_after_ms' | 'last_failure' | 'upstream_calls' | 'mean_latency_ms' | 'success_rate' | 'window' | 'adapters'>>();
  const sharedOf = (key: string, model: string, provider: string) => {
    let s = shared.get(key);
    if (s !== undefined) return s;
    const h = byKey.get(key);
    const a = adapterAggregate(metrics, model, provider);
    const series = metrics.seriesOf({ deployment: key });
    s = {
      circuit: h?.circuit ?? 'closed',
      consecutive_failures: h?.consecutiveFailures ?? 0,
      failure_rate: round4(h?.failureRate ?? 0),
      ewma_latency_ms: h?.ewmaLatencyMs === undefined ? null : round2(h.ewmaLatencyMs),
      in_flight: h?.inFlight ?? 0,
      retry_after_ms: h?.retryAfterMs ?? null,
      last_failure: h?.lastFailure ?? null,
      upstream_calls: a.finished,
      mean_latency_ms: a.mean_latency_ms,
      success_rate: a.success_rate,
      window: series === undefined ? emptyTotals() : history.view(series).totals,
      adapters: metrics.poolView.details(model, provider).map((row) => {
        const c = row.adapter.counters();
        return { id: row.id, latency_p50_ms: c.latency_p50_ms ?? null, latency_p95_ms: c.latency_p95_ms ?? null };
      }),
    };
    shared.set(key, s);
    return s;
  };

  const models: ModelRow[] = [];
  const deployments: DeploymentRow[] = [];
  for (const r of routes.values()) {
    const perKey = metrics.requestCounts(r.name);
    const total = { requests: 0, ok: 0, failed: 0 };
    for (const c of perKey?.values() ?? []) {
      total.requests += c.requests;
      total.ok += c.ok;
      total.failed += c.failed;
    }
    const series = metrics.seriesOf({ model: r.name });
    models.push({
      name: r.name,
      strategy: r.strategy,
      deployments: r.deployments.map((d) => d.key),
      ...total,
      error_rate: total.requests === 0 ? 0 : round4(total.failed / total.requests),
      unrouted: perKey?.get('')?.requests ?? 0,
      window: series === undefined ? emptyTotals() : history.view(series).totals,
    });
    for (const d of r.deployments) {
      const c = perKey?.get(d.key) ?? NO_COUNTS;
      deployments.push({
        key: d.key,
        gateway_model: r.name,
        shared_with: (modelsOf.get(d.key) ?? []).filter((m) => m !== r.name),
        model: d.model,
        provider: d.provider,
        weight: d.weight,
        priority: d.priority,
        requests: c.requests,
        ok: c.ok,
        failed: c.failed,
        ...sharedOf(d.key, d.model, d.provider),
      });
    }
  }
  return {
    models,
    deployments,
    window: history.view(metrics.seriesOf({ all: true })!).totals,
    window_ms: history.slots * history.stepMs,
    unknown_model_requests: metrics.unknownModelRequests(),
  };
}

/** Every chart of the dashboard: the gateway's, each model's, each deployment's. */
export function historyData(metrics: GatewayMetrics, routes: ReadonlyMap<string, ModelRoute>): HistoryData {
  const h = metrics.history;
  const models: Record<string, SeriesView> = {};
  const deployments: Record<string, SeriesView> = {};
  for (const r of routes.values()) {
    const s = metrics.seriesOf({ model: r.name });
    if (s !== undefined) models[r.name] = h.view(s);
    for (const d of r.deployments) {
      if (d.key in deployments) continue;
      const ds = metrics.seriesOf({ deployment: d.key });
      if (ds !== undefined) deployments[d.key] = h.view(ds);
    }
  }
  return { step_ms: h.stepMs, window_ms: h.slots * h.stepMs, times: h.times(), all: h.view(metrics.seriesOf({ all: true })!), models, deployments };
}

/** Mean latency and success rate of a pool over its current adapters (each adapter's own numbers, weighted by its calls). */
export function adapterAggregate(metrics: GatewayMetrics, model: string, provider: string): AdapterAggregate {
  // The closed adapters' calls first, then the live ones': totals that only grow.
  const r = metrics.retiredCalls(poolKey(model, provider));
  const agg: AdapterAggregate = { adapters: 0, requests: r?.requests ?? 0, finished: r?.finished ?? 0, successes: r?.successes ?? 0, mean_latency_ms: 0, success_rate: 1 };
  let latency = r?.latencySumMs ?? 0;
  for (const row of metrics.poolView.details(model, provider)) {
    const c = row.adapter.counters();
    const finished = c.successes + c.failures;
    agg.adapters++;
    agg.requests += c.requests;
    agg.finished += finished;
    agg.successes += c.successes;
    latency += c.mean_latency_ms * finished;
  }
  if (agg.finished > 0) {
    agg.mean_latency_ms = round2(latency / agg.finished);
    agg.success_rate = round4(agg.successes / agg.finished);
  }
  return agg;
}

function emptyTotals(): WindowTotals {
  return { requests: 0, ok: 0, failed: 0, error_rate: 0, latency_p50_ms: null, latency_p95_ms: null, ttft_p50_ms: null, ttft_p95_ms: null, prompt_tokens: 0, completion_tokens: 0, errors: {} };
}

const round2 = (n: number): number => Math.round(n * 100) / 100;
const round4 = (n: number): number => Math.round(n * 10_000) / 10_000;
