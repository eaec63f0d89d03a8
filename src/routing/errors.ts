import { ProviderError } from '../providers/errors.js';
import type { DeploymentState } from './deployment-state.js';
import type { RequestBudget, RequestTimeoutError } from './request-budget.js';
import type { Deployment, RouteTrace } from './types.js';

/** The errors a routed request can end with that the router makes itself, and how far the request got. */

/** Every deployment of a model is down (or busy past the wait): answer 503 with Retry-After at once. */
export class NoDeploymentAvailableError extends Error {
  override readonly name = 'NoDeploymentAvailableError';
  readonly status = 503;
  /** Until the earliest circuit half-opens (ms). */
  readonly retryAfterMs: number;
  readonly model: string;
  /** `detail`: why, appended in parentheses (the open circuits' last failures). */
  constructor(model: string, retryAfterMs: number, message?: string, options?: { cause?: unknown; detail?: string }) {
    const base = `no deployment of ${model} is available; retry after ${Math.ceil(retryAfterMs / 1000)} s`;
    super(message ?? (options?.detail === undefined ? base : `${base} (${options.detail})`), options);
    this.model = model;
    this.retryAfterMs = retryAfterMs;
  }
}

/** What the request that ended with an error got to (see `routeTrace`). */
const traces = new WeakMap<object, RouteTrace>();

/** Attempts made and the deployment tried last, for an error that ended a routed request. */
export function routeTrace(error: unknown): RouteTrace | undefined {
  return typeof error === 'object' && error !== null ? traces.get(error) : undefined;
}

/** Mark `error` with how far its request got (the router's throw sites). */
export function traced(error: unknown, attempts: number, deployment: Deployment | undefined): unknown {
  if (typeof error === 'object' && error !== null) traces.set(error, { attempts, deployment });
  return error;
}

/**
 * Why the 503: the kind of the open circuits' last failures (`401 auth`), so a client sees a bad key
 * or a failing upstream, not only "unavailable"; never the upstream's own words or addresses (the log
 * line and the status pages have those). Undefined for busy pools and limits.
 */
export function openCircuitReasons(all: readonly Deployment[], states: ReadonlyMap<string, DeploymentState>): string | undefined {
  const reasons: string[] = [];
  for (const d of all) {
    const s = states.get(d.key);
    if (s !== undefined && s.breaker.state !== 'closed' && s.lastFailureKind !== undefined) reasons.push(`${d.key}: ${s.lastFailureKind}`);
  }
  return reasons.length === 0 ? undefined : `circuit open after ${reasons.join('; ')}`;
}

/** Why a call or a wait was cut short: the request's budget ran out, or the caller hung up. */
export function stopped(budget: RequestBudget | undefined, signal: AbortSignal | undefined, provider: string, cause: unknown): Error {
  return budget?.expired === true ? (budget.reason as RequestTimeoutError) : abortError(provider, signal?.reason ?? cause);
}

/** The caller hung up: the error a routed request ends with then (status 499). */
export function abortError(provider: string, cause: unknown): ProviderError {
  return new ProviderError({ provider, status: 499, errorClass: 'aborted', message: 'the client closed the request', cause });
}
