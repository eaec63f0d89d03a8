import type { FastifyRequest } from 'fastify';
import type { ModelRoute } from '../config/index.js';
import type { Usage } from '../providers/types.js';
import type { Deployment } from '../routing/types.js';
import { toErrorReply } from './errors.js';
import { tokenCounts, type GatewayMetrics } from './metrics.js';

/** Request metrics and the per-request log line (absent: neither). */
export interface RequestTelemetry {
  metrics: Pick<GatewayMetrics, 'requestStarted' | 'requestDone'>;
  /** Add the request's prompt to its log line (config `logging.logPrompts`). */
  logPrompts: boolean;
}

/** What the log line and the metrics learn when a request ends. */
export interface RequestEnd {
  attempts?: number;
  usage?: Usage | null | undefined;
  /** Streams: ms from the first chunk to the end. */
  streamTailMs?: number;
  /** An error code for the log line (never the upstream's message: it may quote the prompt). */
  error?: string | number | null;
}

/** What a route tells about one request, once, at its start. */
export interface RequestInfo {
  /** The log line's message, e.g. `embeddings` (`embeddings failed` for 5xx). */
  what: string;
  model: string;
  stream: boolean;
  /** The prompt, logged only with `logging.logPrompts` (key `prompt`). */
  prompt?: unknown;
}

/**
 * The bookkeeping every model endpoint shares, from routing to the end of the answer: the metrics
 * (`requestStarted` / `requestDone`) and one structured log line per request, in the chat route's format.
 */
export class RequestLifecycle {
  private readonly startedAt = performance.now();
  private finished = false;

  constructor(
    private readonly telemetry: RequestTelemetry | undefined,
    private readonly request: FastifyRequest,
    private readonly info: RequestInfo,
  ) {}

  /** The request goes to the router: trace its attempts. */
  routing(): void {
    this.telemetry?.metrics.requestStarted(this.request.id);
  }

  /** The request ended with `status`. Idempotent: only the first call counts. */
  done(route: ModelRoute | undefined, deployment: Deployment | undefined, status: number, end: RequestEnd = {}): void {
    if (this.telemetry === undefined || this.finished) return;
    this.finished = true;
    const traced = this.telemetry.metrics.requestDone({ requestId: this.request.id, route, deployment, status, stream: this.info.stream, streamTailMs: end.streamTailMs });
    const line: Record<string, unknown> = {
      model: this.info.model,
      deployment: deployment?.key ?? null,
      attempts: end.attempts ?? traced,
      status,
      latency_ms: Math.round(performance.now() - this.startedAt),
      stream: this.info.stream,
    };
    const tokens = tokenCounts(end.usage);
    if (tokens !== undefined) line.tokens = tokens;
    if (end.error !== undefined) line.error = end.error;
    if (this.telemetry.logPrompts && this.info.prompt !== undefined) line.prompt = this.info.prompt;
    if (status >= 500) this.request.log.warn(line, `${this.info.what} failed`);
    else this.request.log.info(line, this.info.what);
  }

  /** The request failed with `err` before an answer went out. */
  failed(route: ModelRoute | undefined, err: unknown): void {
    if (this.telemetry === undefined) return;
    const r = toErrorReply(err);
    this.done(route, undefined, r.status, { error: r.body.error.code ?? r.body.error.type });
  }
}
