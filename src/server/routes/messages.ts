import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChatCompletionChunk, ChatCompletionStream } from '../../providers/types.js';
import type { Router } from '../../routing/index.js';
import type { ExecuteResult } from '../../routing/types.js';
import { estimateInputTokens } from '../anthropic/count-tokens.js';
import { toAnthropicErrorReply } from '../anthropic/errors.js';
import { pipeFrames } from '../anthropic/pipe.js';
import { toChatRequest } from '../anthropic/request.js';
import { toMessagesResponse } from '../anthropic/response.js';
import { MessagesStreamWriter } from '../anthropic/stream.js';
import type { MessagesRequest } from '../anthropic/types.js';
import { keyAllowsModel } from '../auth.js';
import { modelNotFound, toErrorReply, wrongEndpoint } from '../errors.js';
import { HangupSignal } from '../hangup-signal.js';
import { enterHook, liveHook } from '../live/hooks.js';
import type { ConfigHolder } from '../live/snapshot.js';
import type { KeyLimits } from '../rate-limits.js';
import { RequestLifecycle, type RequestTelemetry, type RequestUsage } from '../request-lifecycle.js';
import { countTokensBodySchema, messagesBodySchema } from '../schemas.js';
import { ATTEMPTS_HEADER, DEPLOYMENT_HEADER } from './chat.js';

export interface MessagesRouteOptions {
  router: Pick<Router, 'executeStrategy'>;
  /** The running config (routes, routing settings, client keys), captured once per request; keys are read from `x-api-key` as well as a bearer token (see `anthropicKey`). */
  live: ConfigHolder;
  telemetry?: RequestTelemetry;
  keyLimits?: KeyLimits;
  usage?: RequestUsage;
}

/** Every failure on these routes, hooks and body validation included, in Anthropic's error shape. */
function anthropicErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const r = toAnthropicErrorReply(err);
  if (r.status >= 500) request.log.error({ err }, 'request failed');
  else request.log.debug({ err, status: r.status }, 'request rejected');
  if (r.retryAfterSeconds !== undefined) reply.header('retry-after', String(r.retryAfterSeconds));
  if (r.headers !== undefined) reply.headers(r.headers);
  return reply.code(r.status).send(r.body);
}

/**
 * `POST /v1/messages` (Anthropic's Messages API in, any provider out) and `POST /v1/messages/count_tokens`.
 * The request is translated to an OpenAI chat request and routed like a chat completion; the answer,
 * streamed or not, is translated back.
 */
export function registerMessagesRoutes(app: FastifyInstance, opts: MessagesRouteOptions): void {
  const { router } = opts;

  app.post<{ Body: MessagesRequest }>(
    '/v1/messages',
    { schema: { body: messagesBodySchema }, onRequest: [enterHook(opts.live, 'anthropicAuth')], errorHandler: anthropicErrorHandler },
    async (request, reply) => {
      const body = request.body;
      const stream = body.stream === true;
      // The config this request arrived on (captured by the enter hook): it finishes on it.
      const live = request.liveConfig!;
      const life = new RequestLifecycle(opts, request, { what: 'messages', model: body.model, stream, prompt: { field: 'messages', value: body.messages } });
      const route = life.resolve(live.routes, 'chat', 'POST /v1/messages');
      const limitHeaders = await life.admit(estimateInputTokens(body) + body.max_tokens);
      if (limitHeaders !== undefined) reply.headers(limitHeaders);

      // Abort the upstream call if the client hangs up before we answer.
      const hangup = new HangupSignal();
      const res = reply.raw;
      res.on('close', () => {
        if (!res.writableEnded) hangup.abort();
      });

      let result: ExecuteResult;
      try {
        const chatRequest = toChatRequest(body, stream);
        result = await router.executeStrategy(chatRequest, route.deployments, route.strategy, live.routing, { signal: hangup.signal, requestId: request.id });
      } catch (err) {
        return life.fail(err);
      }

      const headers: Record<string, string> = { [DEPLOYMENT_HEADER]: result.deployment.key, [ATTEMPTS_HEADER]: String(result.attempts) };
      if (result.kind === 'completion') {
        life.finish(result.deployment, 200, { attempts: result.attempts, usage: result.completion.usage, served: true });
        return reply.headers(headers).send(toMessagesResponse(result.completion, body.model, body.stop_sequences));
      }
      const upstream = result.stream;
      const firstChunkAt = performance.now();
      const ttftMs = firstChunkAt - life.startedMs;
      if (hangup.aborted) {
        upstream.cancel();
        life.finish(result.deployment, 499, { attempts: result.attempts, error: 'client_closed', served: true, usage: upstream.usage, ttftMs, upstreamTtftMs: result.latencyMs });
        return reply.hijack();
      }
      reply.hijack();
      const writer = new MessagesStreamWriter(body.model, body.stop_sequences);
      const outcome = await pipeFrames(reply.raw, translate(upstream, writer), {
        headers: limitHeaders === undefined ? headers : { ...limitHeaders, ...headers },
        cancel: () => upstream.cancel(),
        errorFrame: (err) => writer.error(toAnthropicErrorReply(err).body),
      });
      let status = 200;
      let error: string | number | null | undefined;
      if (outcome.clientClosed) {
        status = 499;
        error = 'client_closed';
      } else if (outcome.error !== undefined) {
        reply.log.warn({ err: outcome.error }, 'stream ended with an error');
        const r = toErrorReply(outcome.error);
        status = r.status;
        error = r.body.error.code ?? r.body.error.type;
      }
      life.finish(result.deployment, status, { attempts: result.attempts, usage: upstream.usage ?? writer.usageSeen, streamTailMs: performance.now() - firstChunkAt, served: true, ttftMs, upstreamTtftMs: result.latencyMs, ...(error === undefined ? {} : { error, cause: outcome.error }) });
    },
  );

  app.post<{ Body: Pick<MessagesRequest, 'model' | 'messages' | 'system' | 'tools'> }>(
    '/v1/messages/count_tokens',
    { schema: { body: countTokensBodySchema }, onRequest: [liveHook(opts.live, 'anthropicAuth')], errorHandler: anthropicErrorHandler },
    async (request) => {
      const model = request.body.model;
      const route = keyAllowsModel(request.clientKey, model) ? opts.live.current.routes.get(model) : undefined;
      if (route === undefined) throw modelNotFound(model);
      if (!route.endpoints.includes('chat')) throw wrongEndpoint(model, 'POST /v1/messages/count_tokens', route.endpoints);
      return { input_tokens: estimateInputTokens(request.body) };
    },
  );
}

/** The upstream's OpenAI chunks as Anthropic frames, closed by `message_delta` and `message_stop`. */
async function* translate(upstream: ChatCompletionStream, writer: MessagesStreamWriter): AsyncGenerator<string> {
  let last: ChatCompletionChunk | undefined;
  for await (const chunk of upstream) {
    last = chunk;
    yield writer.push(chunk);
  }
  yield writer.end(last);
}
