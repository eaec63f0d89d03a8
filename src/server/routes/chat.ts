import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { ChatCompletionRequest, Usage } from '../../providers/types.js';
import { routeTrace, type Router } from '../../routing/index.js';
import type { Deployment, ModelRoute, RouteResult, StreamResult } from '../../routing/types.js';
import { modelNotFound, toErrorReply } from '../errors.js';
import { HangupSignal } from '../hangup-signal.js';
import { tokenCounts, type GatewayMetrics } from '../metrics.js';
import { chatCompletionBodySchema } from '../schemas.js';
import { pipeSse, type PipeSseResult } from '../sse.js';

export const DEPLOYMENT_HEADER = 'x-adapterpool-deployment';
export const ATTEMPTS_HEADER = 'x-adapterpool-attempts';

export interface ChatRouteOptions {
  router: Pick<Router, 'route'>;
  routes: ReadonlyMap<string, ModelRoute>;
  auth: onRequestAsyncHookHandler | undefined;
  /** Request metrics and the per-request log line (absent: neither). */
  telemetry?: ChatTelemetry;
}

export interface ChatTelemetry {
  metrics: Pick<GatewayMetrics, 'requestDone'>;
  /** Add the request's messages to its log line (config `logging.logPrompts`). */
  logPrompts: boolean;
}

/** `POST /v1/chat/completions`, streaming and not, through `router.route`. */
export function registerChatRoutes(app: FastifyInstance, opts: ChatRouteOptions): void {
  const { router, routes } = opts;
  const telemetry = opts.telemetry;
  /** One metrics update and one structured log line per request (the request id comes with request.log). */
  const done = (request: FastifyRequest<{ Body: ChatCompletionRequest }>, route: ModelRoute | undefined, deployment: Deployment | undefined, status: number, started: number, end: RequestEnd): void => {
    if (telemetry === undefined) return;
    const body = request.body;
    const stream = body.stream === true;
    const attempts = end.attempts ?? 0;
    telemetry.metrics.requestDone({ requestId: request.id, route, deployment, status, stream, streamTailMs: end.streamTailMs, attempts, ttftMs: end.ttftMs });
    const line: Record<string, unknown> = {
      model: body.model,
      deployment: deployment?.key ?? null,
      attempts,
      status,
      latency_ms: Math.round(performance.now() - started),
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

      // The one listener for a client hang-up: it aborts the upstream call, and a stream's relay.
      const hangup = new HangupSignal();
      const res = reply.raw;
      res.on('close', () => {
        if (!res.writableEnded) hangup.abort();
      });

      let result: RouteResult;
      try {
        result = await router.route(body, route, { signal: hangup.signal, requestId: request.id });
      } catch (err) {
        if (telemetry !== undefined) {
          const r = toErrorReply(err);
          const trace = routeTrace(err);
          done(request, route, trace?.deployment, r.status, started, { attempts: trace?.attempts, error: r.body.error.code ?? r.body.error.type });
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
      const outcome = await streamReply(reply, result, headers, hangup);
      if (telemetry !== undefined) {
        const end: RequestEnd = { attempts: result.attempts, usage: result.stream.usage, streamTailMs: performance.now() - firstChunkAt, ttftMs: result.latencyMs };
        let status = 200;
        if (outcome.clientClosed) {
          status = 499;
          end.error = 'client_closed';
        } else if (outcome.error !== undefined) {
          const r = toErrorReply(outcome.error);
          status = r.status;
          end.error = r.body.error.code ?? r.body.error.type;
        }
        done(request, route, result.deployment, status, started, end);
      }
    },
  );
}

/** What the log line and the metrics learn when a request ends. */
interface RequestEnd {
  /** Upstream calls the router made (from the result, or from the error's route trace). */
  attempts?: number | undefined;
  usage?: Usage | null | undefined;
  /** Streams: ms from the first chunk to the end. */
  streamTailMs?: number;
  /** Streams: the serving attempt's time to first token. */
  ttftMs?: number;
  /** An error code for the log line (never the upstream's message: it may quote the prompt). */
  error?: string | number | null;
}

async function streamReply(reply: FastifyReply, result: StreamResult, headers: Record<string, string>, hangup: HangupSignal): Promise<PipeSseResult> {
  reply.hijack();
  const outcome = await pipeSse(reply.raw, result.stream, headers, hangup.signal);
  if (outcome.error !== undefined && !outcome.clientClosed) reply.log.warn({ err: outcome.error }, 'stream ended with an error');
  return outcome;
}
