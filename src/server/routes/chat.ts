import type { FastifyInstance, FastifyReply, onRequestAsyncHookHandler } from 'fastify';
import type { ModelRoute } from '../../config/index.js';
import type { ChatCompletionRequest } from '../../providers/types.js';
import type { Router } from '../../routing/index.js';
import type { ExecuteResult, RoutingConfig } from '../../routing/types.js';
import { toErrorReply } from '../errors.js';
import { HangupSignal } from '../hangup-signal.js';
import type { KeyLimits } from '../rate-limits.js';
import { RequestLifecycle, type RequestEnd, type RequestTelemetry, type RequestUsage } from '../request-lifecycle.js';
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
  /** Per-key rpm / tpm / maxConcurrent (absent: none). */
  keyLimits?: KeyLimits;
  /** The usage ledger (absent: nothing recorded). */
  usage?: ChatUsage;
}

export type ChatUsage = RequestUsage;
export type ChatTelemetry = RequestTelemetry;

/** `POST /v1/chat/completions`, streaming and not, through `router.executeStrategy`. */
export function registerChatRoutes(app: FastifyInstance, opts: ChatRouteOptions): void {
  const { router, routes, routing } = opts;

  app.post<{ Body: ChatCompletionRequest }>(
    '/v1/chat/completions',
    { schema: { body: chatCompletionBodySchema }, onRequest: opts.auth ? [opts.auth] : [] },
    async (request, reply) => {
      const body = request.body;
      const life = new RequestLifecycle(opts, request, { what: 'chat completion', model: body.model, stream: body.stream === true, prompt: { field: 'messages', value: body.messages } });
      const route = life.resolve(routes, 'chat', 'POST /v1/chat/completions');
      const limitHeaders = await life.admit(body);
      if (limitHeaders !== undefined) reply.headers(limitHeaders);

      // Abort the upstream call if the client hangs up before we answer.
      const hangup = new HangupSignal();
      const res = reply.raw;
      res.on('close', () => {
        if (!res.writableEnded) hangup.abort();
      });

      life.routing();
      let result: ExecuteResult;
      try {
        result = await router.executeStrategy(body, route.deployments, route.strategy, routing, { signal: hangup.signal, requestId: request.id });
      } catch (err) {
        return life.fail(err);
      }

      const headers: Record<string, string> = { [DEPLOYMENT_HEADER]: result.deployment.key, [ATTEMPTS_HEADER]: String(result.attempts) };
      if (result.kind === 'completion') {
        life.finish(result.deployment, 200, { attempts: result.attempts, usage: result.completion.usage, served: true });
        return reply.headers(headers).send(result.completion);
      }

      const firstChunkAt = performance.now();
      const ttftMs = firstChunkAt - life.startedMs;
      if (hangup.aborted) {
        result.stream.cancel();
        life.finish(result.deployment, 499, { attempts: result.attempts, error: 'client_closed', served: true, usage: result.stream.usage, ttftMs });
        return reply.hijack();
      }
      const outcome = await streamReply(reply, result.stream, limitHeaders === undefined ? headers : { ...limitHeaders, ...headers });
      const end: RequestEnd = { attempts: result.attempts, usage: result.stream.usage, streamTailMs: performance.now() - firstChunkAt, served: true, ttftMs };
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
      life.finish(result.deployment, status, end);
    },
  );
}

async function streamReply(reply: FastifyReply, stream: Extract<ExecuteResult, { kind: 'stream' }>['stream'], headers: Record<string, string>): Promise<PipeSseResult> {
  reply.hijack();
  const outcome = await pipeSse(reply.raw, stream, headers);
  if (outcome.error !== undefined && !outcome.clientClosed) reply.log.warn({ err: outcome.error }, 'stream ended with an error');
  return outcome;
}
