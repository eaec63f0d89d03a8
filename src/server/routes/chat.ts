import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { ModelRoute, Pricing } from '../../config/index.js';
import type { ChatCompletionRequest, Usage } from '../../providers/types.js';
import type { Router } from '../../routing/index.js';
import type { Deployment, ExecuteResult, RoutingConfig } from '../../routing/types.js';
import { costOf, ledgerRowId, type UsageLedger } from '../../usage/index.js';
import { keyAllowsModel } from '../auth.js';
import { modelNotFound, toErrorReply } from '../errors.js';
import { HangupSignal } from '../hangup-signal.js';
import { tokenCounts, type GatewayMetrics } from '../metrics.js';
import { chatCompletionBodySchema } from '../schemas.js';
import type { KeyAdmission, KeyLimits } from '../rate-limits.js';
import { pipeSse, type PipeSseResult } from '../sse.js';

export const DEPLOYMENT_HEADER = 'x-adapterpool-deployment';
export const ATTEMPTS_HEADER = 'x-adapterpool-attempts';

export interface ChatRouteOptions {
  router: Pick<Router, 'executeStrategy'>;
  routes: ReadonlyMap<string, ModelRoute>;
  routing: RoutingConfig;
  auth: onRequestAsyncHookHandler | undefined;
  /** Request metrics and the per-request log line (absent: neither). */
  telemetry?: ChatTelemetry;
  /** Per-key rpm / tpm / maxConcurrent (absent: none). */
  keyLimits?: KeyLimits;
  /** The usage ledger (absent: nothing recorded). */
  usage?: ChatUsage;
}

export interface ChatUsage {
  ledger: Pick<UsageLedger, 'record'>;
  /** Prices per million tokens by gateway model. */
  pricing: ReadonlyMap<string, Pricing>;
}

export interface ChatTelemetry {
  metrics: Pick<GatewayMetrics, 'requestStarted' | 'requestDone'>;
  /** Add the request's messages to its log line (config `logging.logPrompts`). */
  logPrompts: boolean;
  /** Where the per-request line goes; the line carries its request id itself (no per-request child logger). */
  log: Pick<FastifyBaseLogger, 'info' | 'warn'>;
}

/** `POST /v1/chat/completions`, streaming and not, through `router.executeStrategy`. */
export function registerChatRoutes(app: FastifyInstance, opts: ChatRouteOptions): void {
  const { router, routes, routing } = opts;
  const telemetry = opts.telemetry;
  /** One metrics update and one structured log line per request, with its request id. */
  const done = (request: FastifyRequest<{ Body: ChatCompletionRequest }>, route: ModelRoute | undefined, deployment: Deployment | undefined, status: number, started: number, end: RequestEnd): void => {
    if (telemetry === undefined) return;
    const body = request.body;
    const stream = body.stream === true;
    const durationMs = performance.now() - started;
    const traced = telemetry.metrics.requestDone({
      requestId: request.id,
      route,
      deployment,
      status,
      stream,
      durationMs,
      streamTailMs: end.streamTailMs,
      ttftMs: end.ttftMs,
      attempts: end.attempts,
      usage: end.usage,
      key: request.clientKey?.name,
      error: end.cause,
    });
    const line: Record<string, unknown> = {
      reqId: request.id,
      key: request.clientKey?.name ?? null,
      model: body.model,
      deployment: traced.deployment?.key ?? null,
      attempts: traced.attempts,
      status,
      latency_ms: Math.round(durationMs),
      stream,
    };
    const tokens = tokenCounts(end.usage);
    if (tokens !== undefined) line.tokens = tokens;
    if (end.error !== undefined) line.error = end.error;
    if (telemetry.logPrompts) line.messages = body.messages;
    if (status >= 500) telemetry.log.warn(line, 'chat completion failed');
    else telemetry.log.info(line, 'chat completion');
  };

  app.post<{ Body: ChatCompletionRequest }>(
    '/v1/chat/completions',
    { schema: { body: chatCompletionBodySchema }, onRequest: opts.auth ? [opts.auth] : [] },
    async (request, reply) => {
      const started = performance.now();
      const startedAt = Date.now();
      const body = request.body;
      const stream = body.stream === true;
      const key = request.clientKey;
      // A model outside the key's list answers exactly as a model that does not exist.
      const route = keyAllowsModel(key, body.model) ? routes.get(body.model) : undefined;
      let admission: KeyAdmission | undefined;
      /** Every way the request ends: settle the key's reservation, metrics and log line, ledger row. */
      const finish = (deployment: Deployment | undefined, status: number, end: RequestEnd): void => {
        const usage = end.usage ?? undefined;
        // Tokens used: what the upstream reported; none when nothing was served; unknown otherwise
        // (e.g. a stream abandoned before its usage chunk), which keeps the reservation charged.
        admission?.reservation.settle(usage !== undefined ? usage.total_tokens : end.served === true ? undefined : 0);
        done(request, route, deployment, status, started, end);
        if (opts.usage !== undefined) {
          const prompt = usage?.prompt_tokens ?? null;
          const completionTokens = usage?.completion_tokens ?? null;
          opts.usage.ledger.record({
            id: ledgerRowId(startedAt),
            ts: startedAt,
            requestId: request.id,
            key: key?.name ?? null,
            model: body.model,
            deployment: deployment?.key ?? null,
            status,
            errorCode: end.error === undefined || end.error === null ? null : String(end.error),
            promptTokens: prompt,
            completionTokens,
            totalTokens: usage?.total_tokens ?? null,
            latencyMs: performance.now() - started,
            ttftMs: end.ttftMs ?? null,
            stream,
            cost: costOf(opts.usage.pricing.get(body.model), prompt, completionTokens),
          });
        }
      };
      const fail = (err: unknown, deployment?: Deployment): never => {
        const r = toErrorReply(err);
        finish(deployment, r.status, { error: r.body.error.code ?? r.body.error.type, cause: err });
        throw err;
      };

      if (route === undefined) fail(modelNotFound(body.model));
      try {
        admission = await opts.keyLimits?.admit(key, body);
      } catch (err) {
        fail(err);
      }
      if (admission !== undefined) reply.headers(admission.headers);

      // Abort the upstream call if the client hangs up before we answer.
      const hangup = new HangupSignal();
      const res = reply.raw;
      res.on('close', () => {
        if (!res.writableEnded) hangup.abort();
      });

      telemetry?.metrics.requestStarted(request.id);
      let result: ExecuteResult;
      try {
        result = await router.executeStrategy(body, route!.deployments, route!.strategy, routing, { signal: hangup.signal, requestId: request.id });
      } catch (err) {
        return fail(err);
      }

      const headers: Record<string, string> = { [DEPLOYMENT_HEADER]: result.deployment.key, [ATTEMPTS_HEADER]: String(result.attempts) };
      if (result.kind === 'completion') {
        finish(result.deployment, 200, { attempts: result.attempts, usage: result.completion.usage, served: true });
        return reply.headers(headers).send(result.completion);
      }

      const firstChunkAt = performance.now();
      if (hangup.aborted) {
        result.stream.cancel();
        finish(result.deployment, 499, { attempts: result.attempts, error: 'client_closed', served: true, usage: result.stream.usage, ttftMs: firstChunkAt - started });
        return reply.hijack();
      }
      const outcome = await streamReply(reply, result.stream, admission === undefined ? headers : { ...admission.headers, ...headers });
      const end: RequestEnd = { attempts: result.attempts, usage: result.stream.usage, streamTailMs: performance.now() - firstChunkAt, served: true, ttftMs: firstChunkAt - started };
      let status = 200;
      if (outcome.clientClosed) {
        status = 499;
        end.error = 'client_closed';
      } else if (outcome.error !== undefined) {
        const r = toErrorReply(outcome.error);
        status = r.status;
        end.error = r.body.error.code ?? r.body.error.type;
        end.cause = outcome.error;
      }
      finish(result.deployment, status, end);
    },
  );
}

/** What the log line and the metrics learn when a request ends. */
interface RequestEnd {
  attempts?: number;
  usage?: Usage | null | undefined;
  /** Streams: ms from the first chunk to the end. */
  streamTailMs?: number;
  /** An error code for the log line (never the upstream's message: it may quote the prompt). */
  error?: string | number | null;
  /** The error itself, for the metrics' error class. */
  cause?: unknown;
  /** An upstream answered (tokens may have been used even without a usage report). */
  served?: boolean;
  /** Streams: request arrival to the first chunk, ms. */
  ttftMs?: number;
}

async function streamReply(reply: FastifyReply, stream: Extract<ExecuteResult, { kind: 'stream' }>['stream'], headers: Record<string, string>): Promise<PipeSseResult> {
  reply.hijack();
  const outcome = await pipeSse(reply.raw, stream, headers);
  if (outcome.error !== undefined && !outcome.clientClosed) reply.log.warn({ err: outcome.error }, 'stream ended with an error');
  return outcome;
}
