import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import { capText, type ClientKey, type Endpoint, type ModelRoute, type Pricing } from '../config/index.js';
import { ProviderError } from '../providers/errors.js';
import type { ChatCompletionRequest, Usage } from '../providers/types.js';
import { isLimited, routeTrace, TokenEstimate, type DeploymentLimiter, type Estimate } from '../routing/index.js';
import type { Deployment } from '../routing/types.js';
import { costOf, ledgerRowId, type UsageLedger } from '../usage/index.js';
import { keyAllowsModel } from './auth.js';
import { ECHO_LIMIT, errorDetail, GatewayHttpError, modelNotFound, shuttingDown, toErrorReply, wrongEndpoint } from './errors.js';
import { tokenCounts, UNKNOWN_MODEL_LABEL, type GatewayMetrics } from './metrics.js';
import type { HangupSignal } from './hangup-signal.js';
import type { OpenRequests } from './open-requests.js';
import type { PipeResult } from './sse.js';
import type { KeyAdmission, KeyLimits } from './rate-limits.js';
import { isPlain, writeRequestLine, type RequestLineFields } from './request-line.js';

/** Request metrics and the per-request log line (absent: neither). */
export interface RequestTelemetry {
  metrics: Pick<GatewayMetrics, 'requestDone'>;
  /** Add the request's prompt to its log line (config `logging.logPrompts`). */
  logPrompts: boolean;
  /** Where the per-request line goes; the line carries its request id itself (no per-request child logger). */
  log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
}

export interface RequestUsage {
  ledger: Pick<UsageLedger, 'record'>;
  /** Prices per million tokens by gateway model. */
  pricing: ReadonlyMap<string, Pricing>;
}

/** What every model endpoint shares: telemetry, the client key's limits, the usage ledger (each optional). */
export interface LifecycleDeps {
  telemetry?: RequestTelemetry | undefined;
  /** Per-key rpm / tpm / maxConcurrent (absent: none). */
  keyLimits?: KeyLimits | undefined;
  /** The usage ledger (absent: nothing recorded). */
  usage?: RequestUsage | undefined;
  /** Per-deployment limits: their token reservations are settled when the request ends. */
  deploymentLimits?: Pick<DeploymentLimiter, 'settle'> | undefined;
  /** The requests in flight, for the shutdown (absent: not tracked). */
  open?: OpenRequests | undefined;
}

/** What the log line, the metrics, the key's reservation and the ledger learn when a request ends. */
export interface RequestEnd {
  attempts?: number;
  usage?: Usage | null | undefined;
  /** Streams: ms from the first chunk to the end. */
  streamTailMs?: number;
  /** An error code for the log line (never the upstream's message: it may quote the prompt). */
  error?: string | number | null;
  /** An upstream answered (tokens may have been used even without a usage report). */
  served?: boolean;
  /** Streams: request arrival to the first chunk, ms. */
  ttftMs?: number;
  /** Streams: the serving attempt's start to its validated first event (the router's latency), ms. */
  upstreamTtftMs?: number;
  /** The error that ended the request: its detail goes into the log line (never to the client). */
  cause?: unknown;
  /** A request that failed on every deployment: the one it tried last (the log line names it; the ledger's `deployment` stays the serving one). */
  tried?: Deployment | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The lifecycle wrote this request's one log line: the error handler does not add a second. A
     * field the app declares (decorateRequest), not a WeakSet of requests: no weak-table entry per
     * request for the garbage collector to process.
     */
    lineWritten: boolean;
    /** The request's lifecycle, on the model endpoints: an error no route caught still ends it (see `endedBy`). */
    lifecycle: RequestLifecycle | null;
  }
  interface FastifyInstance {
    /** The shutdown deadline passed: the gateway itself is closing the connections still open. */
    shutdownCut: boolean;
  }
}

/** True once the request's log line is written (the error handler then stays quiet). */
export function lineWritten(request: FastifyRequest): boolean {
  return request.lineWritten === true;
}

/** What a route says about one request, once, at its start. */
export interface RequestInfo {
  /** The log line's message, e.g. `chat completion` (`chat completion failed` for 5xx). */
  what: string;
  model: string;
  stream: boolean;
  /** With `logging.logPrompts`: the log line's field for the prompt, and the prompt. */
  prompt?: { field: string; value: unknown };
  /**
   * The status the route answers an error with, when its API's table differs from OpenAI's
   * (Anthropic's 500 and 529): the log line, the metrics and the ledger record what the client got.
   */
  statusOf?: (err: unknown) => number;
}

/**
 * One request of a model endpoint (chat completions, embeddings, messages) from its arrival to its
 * end: the model as the client key may see it, the key's limits (admission, then the reservation
 * settled from the real usage), the metrics, one structured log line, and one ledger row. Every
 * way a request ends goes through `finish` exactly once.
 */
export class RequestLifecycle {
  readonly startedMs = performance.now();
  private readonly startedAt = Date.now();
  private route: ModelRoute | undefined;
  private admission: KeyAdmission | undefined;
  /** The request the router got (its deployments' reservations are found by it). */
  private routed: Estimate | undefined;
  private finished = false;
  /** The key's own limit refused the request (metrics then count its 429 as the client's, not the model's). */
  private ownLimit = false;
  private hangupSignal: HangupSignal | undefined;

  constructor(
    private readonly deps: LifecycleDeps,
    private readonly request: FastifyRequest,
    private readonly info: RequestInfo,
  ) {
    deps.open?.enter();
    request.lifecycle = this;
  }

  /**
   * An error reached fastify's error handler without the route ending the request (a bug of ours, a
   * throw before routing): recorded like any failure (500 internal_error with its stack), so the
   * request is counted, logged and in the ledger, and no longer in flight (a shutdown waited for it).
   */
  endedBy(err: unknown): void {
    if (!this.finished) this.failed(err);
  }

  /**
   * The request's one abort signal for its upstream call: it fires when the client hangs up, or at
   * the shutdown deadline while no answer is under way yet (call `answering()` once one is). The
   * model routes' enter hook (`live/hooks.ts`) made it and fires it from the response's `close`.
   */
  hangup(): HangupSignal {
    const hangup = this.request.hangup;
    if (hangup === null) throw new Error('RequestLifecycle.hangup(): the route has no enter hook (enterHook)');
    this.hangupSignal = hangup;
    this.deps.open?.waitForAnswer(hangup);
    return hangup;
  }

  /** The answer is under way: the shutdown deadline no longer cuts the wait for it. */
  answering(): void {
    if (this.hangupSignal !== undefined) this.deps.open?.answering(this.hangupSignal);
  }

  /**
   * The model's route, for this key and this endpoint; otherwise the request ends here: 404 (unknown,
   * or outside the key's models: the same answer) or 400 naming the endpoint that serves the model.
   */
  resolve(routes: ReadonlyMap<string, ModelRoute>, endpoint: Endpoint, asked: string): ModelRoute {
    const model = this.info.model;
    const route = keyAllowsModel(this.request.clientKey, model) ? routes.get(model) : undefined;
    if (route === undefined) return this.fail(modelNotFound(model));
    this.route = route;
    if (!route.endpoints.includes(endpoint)) return this.fail(wrongEndpoint(model, asked, route.endpoints));
    return route;
  }

  /**
   * Admit the request against its key's limits (a 429 ends it here), reserving the tokens the request
   * may use, estimated from `estimate` (a chat request, or its caller's `TokenEstimate`); the same
   * estimate goes to the router, whose deployments' token reservations are found by it. Resolves with the
   * `x-ratelimit-*` headers of a limited key. A key without limits gets undefined at once, not a
   * promise: no microtask hop for the common case.
   */
  admit(estimate: Estimate): Promise<Readonly<Record<string, string>> | undefined> | undefined {
    this.routed = estimate;
    const limits = this.deps.keyLimits;
    const key = this.request.clientKey;
    if (limits === undefined || key === undefined || !isLimited(key)) return undefined;
    return this.admitLimited(limits, key, estimate instanceof TokenEstimate ? estimate.tokens : estimate);
  }

  private async admitLimited(limits: KeyLimits, key: ClientKey, estimate: ChatCompletionRequest | number): Promise<Readonly<Record<string, string>> | undefined> {
    try {
      this.admission = await limits.admit(key, estimate);
    } catch (err) {
      this.ownLimit = true;
      return this.fail(err);
    }
    return this.admission?.headers;
  }

  /** The request ended with `status`. Only the first call counts. */
  finish(deployment: Deployment | undefined, status: number, end: RequestEnd = {}): void {
    if (this.finished) return;
    this.finished = true;
    try {
      this.record(deployment, status, end);
    } finally {
      // After the bookkeeping (the ledger row): the shutdown waits for it.
      const open = this.deps.open;
      if (open !== undefined) {
        if (this.hangupSignal !== undefined) open.answering(this.hangupSignal);
        open.leave();
      }
    }
  }

  private record(deployment: Deployment | undefined, status: number, end: RequestEnd): void {
    const usage = saneUsage(end.usage);
    // Tokens used: what the upstream reported; none when nothing was served or when the upstream failed
    // (`cause`: a stream it broke gives the reservation back, as a failed call does); unknown otherwise
    // (a stream the client left before its usage chunk), which keeps the reservation charged.
    const used = usage !== undefined ? usage.total_tokens : end.served === true && end.cause === undefined ? undefined : 0;
    this.admission?.reservation.settle(used);
    if (this.routed !== undefined) this.deps.deploymentLimits?.settle(this.routed, deployment, used);
    this.log(deployment, status, end, usage);
    const ledger = this.deps.usage;
    if (ledger !== undefined) {
      const prompt = usage?.prompt_tokens ?? null;
      const completion = usage?.completion_tokens ?? null;
      ledger.ledger.record({
        id: ledgerRowId(this.startedAt),
        ts: this.startedAt,
        requestId: this.request.id,
        key: this.request.clientKey?.name ?? null,
        // As in metrics: a model the config does not have (or the key may not use) is `unknown`, so a
        // client cannot fill the usage report with rows of its own strings (the log line has what it sent).
        model: this.route?.name ?? UNKNOWN_MODEL_LABEL,
        deployment: deployment?.key ?? null,
        status,
        errorCode: end.error === undefined || end.error === null ? null : String(end.error),
        promptTokens: prompt,
        completionTokens: completion,
        totalTokens: usage?.total_tokens ?? null,
        latencyMs: performance.now() - this.startedMs,
        ttftMs: end.ttftMs ?? null,
        stream: this.info.stream,
        // The request's own config's prices (a reload may have changed them since it started).
        cost: this.route === undefined ? null : costOf((this.request.liveConfig?.pricing ?? ledger.pricing).get(this.route.name), prompt, completion),
      });
    }
  }

  /**
   * A stream that was served has ended (`outcome`: how its relay ended): 200, 499 when the client left
   * or stalled, or the status its error maps to for this endpoint. `end` gets the error and `served`.
   */
  streamEnded(deployment: Deployment, outcome: Pick<PipeResult, 'clientClosed' | 'stalled' | 'error'>, end: RequestEnd): void {
    end.served = true;
    let status = 200;
    if (outcome.clientClosed) {
      status = 499;
      end.error = outcome.stalled === true ? 'write_timeout' : 'client_closed';
    } else if (outcome.error !== undefined) {
      const r = toErrorReply(outcome.error);
      status = this.info.statusOf?.(outcome.error) ?? r.status;
      end.error = r.body.error.code ?? r.body.error.type;
      end.cause = outcome.error;
    }
    this.finish(deployment, status, end);
  }

  /** End the request with `err` (its status and code from the error table) and throw it (the error handler answers). */
  fail(err: unknown, deployment?: Deployment): never {
    throw this.failed(err, deployment);
  }

  /**
   * End the request with `err`, for a route that tells the client itself (a stream whose head is
   * sent). Returns the error it was recorded as.
   */
  failed(err: unknown, deployment?: Deployment): unknown {
    // A hang-up after the shutdown deadline is the gateway cutting the request, not the client going
    // away: recorded, and answered if the connection is still open, as the shutdown it was (503).
    const trace = routeTrace(err);
    if (this.request.server.shutdownCut && toErrorReply(err).status === 499) err = shutdownCut(err);
    const r = toErrorReply(err);
    // The attempts a routed request made come with its error (the route's trace).
    const end: RequestEnd = { error: r.body.error.code ?? r.body.error.type, cause: err };
    if (trace?.attempts !== undefined) end.attempts = trace.attempts;
    // A request that failed on every deployment: its log line names the one it tried last.
    if (deployment === undefined && trace?.deployment !== undefined) end.tried = trace.deployment;
    this.finish(deployment, this.info.statusOf?.(err) ?? r.status, end);
    return err;
  }

  /** Metrics and the log line. */
  private log(deployment: Deployment | undefined, status: number, end: RequestEnd, usage: Usage | undefined): void {
    const telemetry = this.deps.telemetry;
    if (telemetry === undefined) return;
    const stream = this.info.stream;
    const attempts = end.attempts ?? 0;
    const durationMs = performance.now() - this.startedMs;
    telemetry.metrics.requestDone({
      route: this.route,
      // A failed request counts on the deployment it tried last.
      deployment: deployment ?? end.tried,
      status,
      stream,
      durationMs,
      attempts,
      streamTailMs: end.streamTailMs,
      ttftMs: end.ttftMs,
      upstreamTtftMs: end.upstreamTtftMs,
      usage,
      key: this.request.clientKey?.name,
      error: end.cause,
      ownLimit: this.ownLimit,
    });
    const fields: RequestLineFields = {
      reqId: this.request.id,
      key: this.request.clientKey?.name ?? null,
      model: capText(this.info.model, ECHO_LIMIT),
      deployment: (deployment ?? end.tried)?.key ?? null,
      attempts,
      status,
      latency_ms: Math.round(durationMs),
      stream,
      tokens: tokenCounts(usage),
      error: end.error,
    };
    // Our own bug: the stack. Anything else (an upstream's failure, a limit): what happened, in one
    // line — for a 4xx too when the upstream refused (its 400's or 429's words are what the operator needs).
    const internal = end.cause !== undefined && end.error === 'internal_error';
    const detail = !internal && end.cause !== undefined && (status >= 500 || end.cause instanceof ProviderError);
    const prompt = (this.request.liveConfig?.config.logging.logPrompts ?? telemetry.logPrompts) ? this.info.prompt : undefined;
    this.request.lineWritten = true;
    const log = telemetry.log;
    if (!internal && !detail && prompt === undefined && isPlain(log)) {
      // The usual line (no stack, no detail, no prompt): serialized here, see request-line.ts.
      writeRequestLine(log, status >= 500 ? 40 : 30, fields, status >= 500 ? `${this.info.what} failed` : this.info.what);
      return;
    }
    const line: Record<string, unknown> = { ...fields }; // pino leaves out undefined fields
    if (internal) line.err = end.cause;
    else if (detail) line.detail = errorDetail(end.cause);
    if (prompt !== undefined) line[prompt.field] = prompt.value;
    if (internal) log.error(line, `${this.info.what} failed`);
    else if (status >= 500) log.warn(line, `${this.info.what} failed`);
    else log.info(line, this.info.what);
  }
}

const shutdownCut = (cause: unknown): GatewayHttpError => {
  const e = shuttingDown('The gateway shut down before the answer came (server.shutdownTimeout ran out).');
  (e as Error).cause = cause;
  return e;
};

/** Largest token count taken from an upstream's report: the ledger's INTEGER columns hold no more. */
const MAX_REPORTED_TOKENS = 2_147_483_647;

/**
 * The upstream's usage report if its counts are whole numbers from 0 to MAX_REPORTED_TOKENS (a count
 * may be missing); otherwise none, as if it had sent no report. A misbehaving upstream's `1e308` or
 * `"x"` would otherwise stick in the token counters for good, charge a key's or a deployment's token
 * limit with it, and make every PostgreSQL ledger batch that holds the row fail.
 */
export function saneUsage(usage: Usage | null | undefined): Usage | undefined {
  if (typeof usage !== 'object' || usage === null) return undefined;
  return count(usage.prompt_tokens) && count(usage.completion_tokens) && count(usage.total_tokens) ? usage : undefined;
}

function count(v: unknown): boolean {
  return v === undefined || (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_REPORTED_TOKENS);
}

/** A stream whose client left before its relay started. */
export const CLIENT_GONE: Pick<PipeResult, 'clientClosed'> = Object.freeze({ clientClosed: true });
