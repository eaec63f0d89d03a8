import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ModelRoute } from '../../config/index.js';
import type { ChatCompletionRequest, Usage } from '../../providers/types.js';
import type { Router } from '../../routing/index.js';
import type { Deployment, ExecuteResult } from '../../routing/types.js';
import { modelNotFound, toErrorReply } from '../errors.js';
import { HangupSignal } from '../hangup-signal.js';
import { enterHook } from '../live/hooks.js';
import type { ConfigHolder } from '../live/snapshot.js';
import { tokenCounts, type GatewayMetrics } from '../metrics.js';
import { chatCompletionBodySchema } from '../schemas.js';
import { pipeSse, type PipeSseResult } from '../sse.js';

export const DEPLOYMENT_HEADER = 'x-adapterpool-deployment';
export const ATTEMPTS_HEADER = 'x-adapterpool-attempts';

export interface ChatRouteOptions {
  router: Pick<Router, 'executeStrategy'>;
  /** The running config: routes, routing settings and API keys, read once per request. */
  live: ConfigHolder;
  /** Request metrics and the per-request log line (absent: neither). */
  telemetry?: ChatTelemetry;
}

export interface ChatTelemetry {
  metrics: Pick<GatewayMetrics, 'requestStarted' | 'requestDone'>;
}

/** `POST /v1/chat/completions`, streaming and not, through `router.executeStrategy`. */
export function registerChatRoutes(app: FastifyInstance, opts: ChatRouteOptions): void {
  const { router } = opts;
  if (!app.hasRequestDecorator('liveConfig')) app.decorateRequest('liveConfig', null);
  const telemetry = opts.telemetry;
  /** One metrics update and one structured log line per request (the request id comes with request.log). */
  const done = (request: FastifyRequest<{ Body: ChatCompletionRequest }>, route: ModelRoute | undefined, deployment: Deployment | undefined, status: number, started: number, end: RequestEnd): void => {
    if (telemetry === undefined) return;
    const body = request.body;
    const stream = body.stream === true;
    const traced = telemetry.metrics.requestDone({ requestId: request.id, route, deployment, status, stream, streamTailMs: end.streamTailMs });
    const line: Record<string, unknown> = {
      model: body.model,
      deployment: deployment?.key ?? null,
      attempts: end.attempts ?? traced,
      status,
      latency_ms: Math.round(performance.now() - started),
      stream,
    };
    const tokens = tokenCounts(end.usage);
    if (tokens !== undefined) line.tokens = tokens;
    if (end.error !== undefined) line.error = end.error;
    if (request.liveConfig?.config.logging.logPrompts === true) line.messages = body.messages;
    if (status >= 500) request.log.warn(line, 'chat completion failed');
    else request.log.info(line, 'chat completion');
  };

  app.post<{ Body: ChatCompletionRequest }>(
    '/v1/chat/completions',
    { schema: { body: chatCompletionBodySchema }, onRequest: [enterHook(opts.live)] },
    async (request, reply) => {
      const started = performance.now();
      const body = request.body;
      // The config this request arrived on (captured by the enter hook): it finishes on it.
      const live = request.liveConfig!;
      const route = live.routes.get(body.model);
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
        result = await router.executeStrategy(body, route.deployments, route.strategy, live.routing, { signal: hangup.signal, requestId: request.id });
      } catch (err) {
        if (telemetry !== undefined) {
          const r = toErrorReply(err);
          done(request, route, undefined, r.status, started, { error: r.body.error.code ?? r.body.error.type });
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
}

async function streamReply(reply: FastifyReply, stream: Extract<ExecuteResult, { kind: 'stream' }>['stream'], headers: Record<string, string>): Promise<PipeSseResult> {
  reply.hijack();
  const outcome = await pipeSse(reply.raw, stream, headers);
  if (outcome.error !== undefined && !outcome.clientClosed) reply.log.warn({ err: outcome.error }, 'stream ended with an error');
  return outcome;
}
