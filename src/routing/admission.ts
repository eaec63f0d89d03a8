import type { ChatCompletionRequest } from '../providers/types.js';
import type { Deployment } from './types.js';

/** A deployment's limit says no: try another, or tell the client when to come back. */
export interface AdmissionDenied {
  retryAfterMs: number;
}

/**
 * What a call that is not a chat completion (embeddings, a /v1/messages request) may use, as its
 * caller sized it. An object, not a number: like a chat request, it names the request whose
 * reservations are corrected when it ends.
 */
export class TokenEstimate {
  constructor(readonly tokens: number) {}
}

/** What deployment token limits reserve for: a chat request (estimated from it) or a caller's estimate. */
export type Estimate = ChatCompletionRequest | TokenEstimate;

/** `true` admits the call (an implementation counts it then). */
export type AdmissionVerdict = true | AdmissionDenied;

/**
 * Optional port for per-deployment request limits (rpm/tpm). The router asks before every upstream
 * call; a deployment at its limit is skipped like a full pool and the request fails over. When every
 * deployment is at its limit the request ends with DeploymentsAtLimitError (429). It is asked after
 * the deployment's circuit let the call through and before an adapter is borrowed, so a pool that
 * then turns out to be full may have had a call counted that never went out. A shared backend may
 * answer asynchronously. `request` is what token limits reserve for (undefined: a `routeCall` given no estimate counts
 * against request limits only).
 */
export interface DeploymentAdmission {
  admit(deployment: Deployment, request: Estimate | undefined): AdmissionVerdict | Promise<AdmissionVerdict>;
}

/** Every deployment of a model is at its request limit: answer 429 with Retry-After. */
export class DeploymentsAtLimitError extends Error {
  override readonly name = 'DeploymentsAtLimitError';
  readonly status = 429;
  readonly retryAfterMs: number;
  readonly model: string;
  constructor(model: string, retryAfterMs: number) {
    super(`every deployment of ${model} is at its request limit; retry after ${Math.ceil(retryAfterMs / 1000)} s`);
    this.model = model;
    this.retryAfterMs = retryAfterMs;
  }
}
