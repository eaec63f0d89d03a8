import type { CallOptions, ChatAdapter, ChatCompletion, ChatCompletionStream } from '../providers/types.js';
import type { CircuitState } from './circuit-breaker.js';

export type StrategyName = 'round_robin' | 'weighted' | 'least_connections' | 'lowest_latency' | 'failover';

/** One place a model can be served: a provider plus its upstream model id. Its pool key is `${model}:${provider}`. */
export interface Deployment {
  /** Pool key, `${model}:${provider}`. */
  readonly key: string;
  readonly provider: string;
  readonly model: string;
  readonly weight: number;
  /** Lower is preferred (failover tiers). */
  readonly priority: number;
}

/** Retry, budget and circuit settings (config `routing:`), all durations in ms. */
export interface RoutingConfig {
  /** Attempts per request across all deployments, first one included. */
  maxAttempts: number;
  /** Attempts on one deployment before failing over. */
  maxAttemptsPerDeployment: number;
  /** Wall-clock budget of one request, retries included; 0 or Infinity: none. */
  requestTimeoutMs: number;
  retryBackoffInitialMs: number;
  retryBackoffMaxMs: number;
  /** `full`: uniform in [0, initial*2^n]; `decorrelated`: uniform in [initial, previous*3]; both capped by retryBackoffMaxMs. */
  retryJitter: 'full' | 'decorrelated';
  /** Honour an upstream Retry-After up to this; longer means fail over instead. */
  maxRetryAfterMs: number;
  /** Open a deployment's circuit after this many consecutive failures... */
  circuitConsecutiveFailures: number;
  /** ...or when the failure rate over the window exceeds this (0..1) with at least `circuitMinRequests` samples. */
  circuitFailureRate: number;
  circuitWindowMs: number;
  circuitMinRequests: number;
  /** How long an open circuit stays open before one probe request (half-open). */
  circuitCooldownMs: number;
  /** Wait at most this long for an adapter of a full pool before trying the next deployment. */
  fullPoolWaitMs: number;
}

export const DEFAULT_ROUTING_CONFIG: RoutingConfig = {
  maxAttempts: 4,
  maxAttemptsPerDeployment: 2,
  requestTimeoutMs: 600_000,
  retryBackoffInitialMs: 100,
  retryBackoffMaxMs: 5_000,
  retryJitter: 'full',
  maxRetryAfterMs: 60_000,
  circuitConsecutiveFailures: 5,
  circuitFailureRate: 0.5,
  circuitWindowMs: 60_000,
  circuitMinRequests: 10,
  circuitCooldownMs: 30_000,
  fullPoolWaitMs: 0,
};

/** A gateway model's route: strategy state is kept per route `name`, circuits per deployment. */
export interface Route {
  readonly name: string;
  readonly strategy: StrategyName;
  readonly deployments: readonly Deployment[];
}

/** What one request may spend: honoured per call. */
export type CallSettings = Pick<
  RoutingConfig,
  'maxAttempts' | 'maxAttemptsPerDeployment' | 'requestTimeoutMs' | 'retryBackoffInitialMs' | 'retryBackoffMaxMs' | 'retryJitter' | 'maxRetryAfterMs' | 'fullPoolWaitMs'
>;

/** A deployment's circuit: the deployment's own settings, shared by every request and route using it. */
export type CircuitSettings = Pick<
  RoutingConfig,
  'circuitConsecutiveFailures' | 'circuitFailureRate' | 'circuitWindowMs' | 'circuitMinRequests' | 'circuitCooldownMs'
>;

export interface RouteOptions {
  /** The client hung up. */
  signal?: AbortSignal;
  requestId?: string;
  /** This request's own attempt budget, backoff and timeouts (the router's config fills the rest). */
  settings?: Partial<CallSettings>;
}

/** @deprecated The options of `Router.executeStrategy` (the original entry point, kept for library users); same as RouteOptions without `settings`. */
export type ExecuteOptions = Pick<RouteOptions, 'signal' | 'requestId'>;

/** How far a request got: on a result, and on the error that ended a request (see `routeTrace`). */
export interface RouteTrace {
  /** Upstream calls made, the successful one included. */
  attempts: number;
  /** The deployment that served the request, or the one tried last (undefined: none was tried). */
  deployment: Deployment | undefined;
}

export interface RouteMeta extends RouteTrace {
  /** The deployment that served the request. */
  deployment: Deployment;
  /** ms from the successful attempt's start to its answer (streams: to the validated first event). */
  latencyMs: number;
}

export interface CompletionResult extends RouteMeta {
  kind: 'completion';
  completion: ChatCompletion;
}

/**
 * A stream whose first event the provider already validated (so failures before it were retried /
 * failed over); `latencyMs` is its time to first token. The adapter stays leased until the stream
 * ends, throws, or `cancel()` is called; then it goes back to the pool.
 */
export interface StreamResult extends RouteMeta {
  kind: 'stream';
  stream: ChatCompletionStream;
}

export type RouteResult = CompletionResult | StreamResult;
/** RouteResult under its original name: what `Router.executeStrategy` resolves with. */
export type ExecuteResult = RouteResult;

/** What `routeCall` resolves with: the call's value and how it was obtained. */
export interface CallResult<T> extends RouteMeta {
  value: T;
}

export interface DeploymentHealth {
  key: string;
  provider: string;
  model: string;
  circuit: CircuitState;
  consecutiveFailures: number;
  failureRate: number;
  ewmaLatencyMs: number | undefined;
  inFlight: number;
  openedAt?: number;
  retryAfterMs?: number;
  /** The last failure that counted against the circuit (see DeploymentState.lastFailure). */
  lastFailure?: string;
}

/** Payloads of `Router.on(...)`, for metrics and logs. */
export interface RouterEvents {
  attempt: { requestId: string | undefined; deployment: Deployment; attempt: number };
  retry: { requestId: string | undefined; deployment: Deployment; attempt: number; delayMs: number; error: unknown };
  /** `busy`: its pool was full, or it was at its request limit. */
  failover: { requestId: string | undefined; from: Deployment; attempt: number; error: unknown; reason: 'error' | 'busy' | 'circuit_open' };
  success: { requestId: string | undefined; deployment: Deployment; attempts: number; latencyMs: number; stream: boolean };
  circuit_open: { deployment: Deployment; retryAfterMs: number };
  circuit_half_open: { deployment: Deployment };
  circuit_close: { deployment: Deployment };
  no_deployment: { model: string; retryAfterMs: number };
}
export type RouterEventName = keyof RouterEvents;

/** The call `routeCall` makes on the adapter it borrowed; `options` carries the client's abort signal. */
export type AdapterCall<T> = (adapter: ChatAdapter, options: CallOptions) => Promise<T>;
