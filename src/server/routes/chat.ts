import type { FastifyInstance, FastifyReply, onRequestAsyncHookHandler } from 'fastify';
import type { ModelRoute } from '../../config/index.js';
import type { ChatCompletionRequest } from '../../providers/types.js';
import type { Router } from '../../routing/index.js';
import type { ExecuteResult, RoutingConfig } from '../../routing/types.js';
import { modelNotFound } from '../errors.js';
import { HangupSignal } from '../hangup-signal.js';
import { chatCompletionBodySchema } from '../schemas.js';
import { pipeSse } from '../sse.js';

export const DEPLOYMENT_HEADER = 'x-adapterpool-deployment';
export const ATTEMPTS_HEADER = 'x-adapterpool-attempts';

export interface ChatRouteOptions {
  router: Pick<Router, 'executeStrategy'>;
  routes: ReadonlyMap<string, ModelRoute>;
  routing: RoutingConfig;
  auth: onRequestAsyncHookHandler | undefined;
}

/** `POST /v1/chat/completions`, streaming and not, through `router.executeStrategy`. */
export function registerChatRoutes(app: FastifyInstance, opts: ChatRouteOptions): void {
  const { router, routes, routing } = opts;

  app.post<{ Body: ChatCompletionRequest }>(
    '/v1/chat/completions',
    { schema: { body: chatCompletionBodySchema }, onRequest: opts.auth ? [opts.auth] : [] },
    async (request, reply) => {
      const body = request.body;
      const route = routes.get(body.model);
      if (route === undefined) throw modelNotFound(body.model);

      // Abort the upstream call if the client hangs up before we answer.
      const hangup = new HangupSignal();
      const res = reply.raw;
      res.on('close', () => {
        if (!res.writableEnded) hangup.abort();
      });

      const result = await router.executeStrategy(body, route.deployments, route.strategy, routing, { signal: hangup.signal, requestId: request.id });

      const headers = { [DEPLOYMENT_HEADER]: result.deployment.key, [ATTEMPTS_HEADER]: String(result.attempts) };
      if (result.kind === 'completion') return reply.headers(headers).send(result.completion);

      if (hangup.aborted) {
        result.stream.cancel();
        return reply.hijack();
      }
      return streamReply(reply, result.stream, headers);
    },
  );
}

async function streamReply(reply: FastifyReply, stream: Extract<ExecuteResult, { kind: 'stream' }>['stream'], headers: Record<string, string>): Promise<void> {
  reply.hijack();
  const outcome = await pipeSse(reply.raw, stream, headers);
  if (outcome.error !== undefined && !outcome.clientClosed) reply.log.warn({ err: outcome.error }, 'stream ended with an error');
}
