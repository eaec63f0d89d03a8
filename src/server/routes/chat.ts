import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { ModelRoute } from '../../config/index.js';
import type { ChatCompletionRequest, Usage } from '../../providers/types.js';
import type { Router } from '../../routing/index.js';
import type { Deployment, ExecuteResult, RoutingConfig } from '../../routing/types.js';
import { modelNotFound, toErrorReply } from '../errors.js';
import { HangupSignal } from '../hangup-signal.js';
import { tokenCounts, type GatewayMetrics } from '../metrics.js';
import { chatCompletionBodySchema } from '../schemas.js';
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
}

export interface ChatTelemetry {
  metrics: Pick<GatewayMetrics, 'requestStarted' | 'requestDone'>;
  /** Add the request's messages to its log line (config `logging.logPrompts`). */
  logPrompts: boolean;
}

/** `POST /v1/chat/completions`, streaming and not, through `router.executeStrategy`. */
export function registerChatRoutes(app: FastifyInstance, opts: ChatRouteOptions): void {
  const { router, routes, routing } = opts;
  const telemetry = opts.telemetry;
  /** One metrics update and one structured log line per request (the request id comes with request.log). */
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
      attempts: end.attempts,
      usage: end.usage,
      error: end.cause,
    });
    const line: Record<string, unknown> = {
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
    if (status >= 500) request.log.warn(line, 'chat completion failed');
    else request.log.info(line, 'chat completion');
  };

  app.post<{ Body: ChatCompletionRequest }>(
    '/v1/chat/completions',
    { schema: { body: chatCompletionBodySchema }, onRequest: opts.auth ? [opts.auth] : [] },
    async (request, reply) => {
      const started = performance.now();
      const body = request.body;
      const route = routes.get(body.model);
      if (route === undefined) {
        const err = modelNotFound(body.model);
        done(request, undefined, undefined, err.status, started, { error: err.code });
        throw err;
      }

      // Abort the upstream call if the client hangs up before we answer.
      const hangup = new HangupSignal();
      const res = reply.raw;
      res.on('close', () => {
        if (!res.writableEnded) hangup.abort();
      });

      telemetry?.metrics.requestStarted(request.id);
      let result: ExecuteResult;
      try {
        result = await router.executeStrategy(body, route.deployments, route.strategy, routing, { signal: hangup.signal, requestId: request.id });
      } catch (err) {
        if (telemetry !== undefined) {
          const r = toErrorReply(err);
          done(request, route, undefined, r.status, started, { error: r.body.error.code ?? r.body.error.type, cause: err });
        }
        throw err;
      }

      const headers = { [DEPLOYMENT_HEADER]: result.deployment.key, [ATTEMPTS_HEADER]: String(result.attempts) };
      if (result.kind === 'completion') {
        done(request, route, result.deployment, 200, started, { attempts: result.attempts, usage: result.completion.usage });
        return reply.headers(headers).send(result.completion);
      }

      if (hangup.aborted) {
        result.stream.cancel();
        done(request, route, result.deployment, 499, started, { attempts: result.attempts, error: 'client_closed' });
        return reply.hijack();
      }
      const firstChunkAt = performance.now();
      const outcome = await streamReply(reply, result.stream, headers);
      if (telemetry !== undefined) {
        const end: RequestEnd = { attempts: result.attempts, usage: result.stream.usage, streamTailMs: performance.now() - firstChunkAt };
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
        done(request, route, result.deployment, status, started, end);
      }
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
}

async function streamReply(reply: FastifyReply, stream: Extract<ExecuteResult, { kind: 'stream' }>['stream'], headers: Record<string, string>): Promise<PipeSseResult> {
  reply.hijack();
  const outcome = await pipeSse(reply.raw, stream, headers);
  if (outcome.error !== undefined && !outcome.clientClosed) reply.log.warn({ err: outcome.error }, 'stream ended with an error');
  return outcome;
}
