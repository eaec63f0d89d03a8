import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AnthropicAdapter } from '../../providers/anthropic/adapter.js';
import { toUsage } from '../../providers/anthropic/translate.js';
import type { AnthropicResponse } from '../../providers/anthropic/types.js';
import type { ChatAdapter, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatCompletionStream } from '../../providers/types.js';
import { TokenEstimate, type Router } from '../../routing/index.js';
import type { CallResult, StreamResult } from '../../routing/types.js';
import { estimateInputTokens } from '../anthropic/count-tokens.js';
import { ANTHROPIC_REQUEST_ID_HEADER, toAnthropicErrorReply } from '../anthropic/errors.js';
import { toChatRequest } from '../anthropic/request.js';
import { toMessagesResponse } from '../anthropic/response.js';
import { errorEvent, MessagesStreamWriter } from '../anthropic/stream.js';
import type { MessagesRequest } from '../anthropic/types.js';
import { keyAllowsModel } from '../auth.js';
import { REQUEST_ID_HEADER } from '../edge.js';
import { modelNotFound, wrongEndpoint } from '../errors.js';
import { enterHook, liveHook } from '../live/hooks.js';
import type { ConfigHolder } from '../live/snapshot.js';
import type { GatewayConfig, ModelRoute } from '../../config/index.js';
import type { AdapterPool } from '../../pool/index.js';
import type { KeyLimits } from '../rate-limits.js';
import { CLIENT_GONE, RequestLifecycle, type RequestTelemetry, type RequestUsage } from '../request-lifecycle.js';
import { countTokensBodySchema, messagesBodySchema } from '../schemas.js';
import { answerError, ATTEMPTS_HEADER, DEPLOYMENT_HEADER } from '../error-reply.js';
import { FirstEventWait, pipeFrames } from '../sse.js';

export interface MessagesRouteOptions {
  router: Pick<Router, 'routeCall' | 'routeStreamCall'>;
  /** Lends an `anthropic` deployment's adapter for an exact `count_tokens` (absent: estimates only). */
  pool?: Pick<AdapterPool<ChatAdapter>, 'withAdapter'>;
  /** The running config (routes, routing settings, client keys), captured once per request; keys are read from `x-api-key` as well as a bearer token (see `anthropicKey`). */
  live: ConfigHolder;
  telemetry?: RequestTelemetry;
  keyLimits?: KeyLimits;
  usage?: RequestUsage;
}

/** Before the auth hook, so that refused requests carry it too. */
function anthropicRequestId(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  reply.header(ANTHROPIC_REQUEST_ID_HEADER, request.id);
  done();
}

/** A non-streaming answer: the Anthropic upstream's own message, or an OpenAI completion to translate. */
type Answer = { native: AnthropicResponse } | { completion: ChatCompletion };

/**
 * Every failure on these routes, hooks and body validation included, in Anthropic's error shape; also
 * the failures of an unknown Anthropic URL (`isAnthropicPath`) before its 404. Sets `request-id` itself:
 * a failure before `anthropicRequestId` ran (a global hook's, the not-found route's) carries it too.
 */
export function anthropicErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  reply.header(ANTHROPIC_REQUEST_ID_HEADER, request.id);
  return answerError(err, request, reply, toAnthropicErrorReply);
}

/**
 * `POST /v1/messages` (Anthropic's Messages API in, any provider out) and `POST /v1/messages/count_tokens`.
 * Routed like a chat completion, one attempt at a time: a deployment on an `anthropic` provider gets
 * the request as the client sent it (our model id, our key) and its answer goes back as it came;
 * every other one gets the OpenAI translation, and its answer, streamed or not, is translated back.
 */
export function registerMessagesRoutes(app: FastifyInstance, opts: MessagesRouteOptions): void {
  const { router } = opts;

  app.post<{ Body: MessagesRequest }>(
    '/v1/messages',
    { schema: { body: messagesBodySchema }, onRequest: [anthropicRequestId, enterHook(opts.live, 'anthropicAuth')], errorHandler: anthropicErrorHandler },
    async (request, reply) => {
      const body = request.body;
      const stream = body.stream === true;
      // The config this request arrived on (captured by the enter hook): it finishes on it.
      const live = request.liveConfig!;
      const life = new RequestLifecycle(opts, request, { what: 'messages', model: body.model, stream, prompt: { field: 'messages', value: body.messages }, statusOf: anthropicStatusOf });
      const route = life.resolve(live.routes, 'chat', 'POST /v1/messages');
      // One estimate for the key's and the deployments' token limits, corrected from usage at the end.
      const inputEstimate = estimateInputTokens(body);
      const estimate = new TokenEstimate(inputEstimate + body.max_tokens);
      const limitHeaders = await life.admit(estimate);
      if (limitHeaders !== undefined) reply.headers(limitHeaders);

      // Abort the upstream call if the client hangs up before we answer.
      const res = reply.raw;
      const hangup = life.hangup();
      const beta = headerValue(request.headers['anthropic-beta']);
      // Translated once, and only if an attempt goes to a provider other than Anthropic.
      let translated: ChatCompletionRequest | undefined;
      const chatRequest = (): ChatCompletionRequest => (translated ??= toChatRequest(body, stream));
      const options = { signal: hangup.signal, requestId: request.id };

      if (!stream) {
        let result: CallResult<Answer>;
        try {
          result = await router.routeCall<Answer>(
            route,
            async (adapter, o) => (adapter instanceof AnthropicAdapter ? { native: await adapter.messages(body, { ...o, beta }) } : { completion: await adapter.chatCompletion(chatRequest(), o) }),
            options,
            estimate,
          );
        } catch (err) {
          return life.fail(err);
        }
        life.answering();
        const v = result.value;
        const usage = 'native' in v ? toUsage(v.native.usage ?? {}) : v.completion.usage;
        // The answer first, then the bookkeeping, as on the chat route.
        try {
          reply.headers({ [DEPLOYMENT_HEADER]: result.deployment.key, [ATTEMPTS_HEADER]: String(result.attempts) });
          return reply.send('native' in v ? v.native : toMessagesResponse(v.completion, body.model, body.stop_sequences, inputEstimate));
        } finally {
          life.finish(result.deployment, 200, { attempts: result.attempts, usage, served: true });
        }
      }

      // Which kind of stream the serving attempt opened (each attempt sets it; the last one served).
      let native = false;
      // A first event slow in coming: keep-alive comments (server.streamKeepAlive).
      const keepAliveMs = live.config.server.streamKeepAlive;
      const wait = keepAliveMs > 0 ? new FirstEventWait(res, { [REQUEST_ID_HEADER]: request.id, [ANTHROPIC_REQUEST_ID_HEADER]: request.id, ...limitHeaders }, keepAliveMs, () => reply.hijack()) : undefined;
      let result: StreamResult;
      try {
        result = await router.routeStreamCall(
          route,
          async (adapter, o) => {
            native = adapter instanceof AnthropicAdapter;
            return adapter instanceof AnthropicAdapter ? (await adapter.messagesStream(body, { ...o, beta })).asNative() : adapter.chatCompletionStream(chatRequest(), o);
          },
          options,
          estimate,
        );
      } catch (err) {
        // The head is out: the error event tells the client (at the shutdown deadline, the shutdown's).
        if (wait?.committed === true) return void wait.fail(life.failed(err), (e) => errorEvent(toAnthropicErrorReply(e).body));
        wait?.stop();
        return life.fail(err);
      }
      wait?.stop();
      life.answering();
      const headers: Record<string, string> = { [DEPLOYMENT_HEADER]: result.deployment.key, [ATTEMPTS_HEADER]: String(result.attempts) };
      const upstream = result.stream;
      const writer = new MessagesStreamWriter(body.model, body.stop_sequences, { inputTokens: inputEstimate });
      const firstChunkAt = performance.now();
      const ttftMs = firstChunkAt - life.startedMs;
      if (hangup.aborted) {
        upstream.cancel();
        life.streamEnded(result.deployment, CLIENT_GONE, { attempts: result.attempts, usage: upstream.usage, ttftMs, upstreamTtftMs: result.latencyMs });
        return reply.hijack();
      }
      reply.hijack();
      const outcome = await pipeFrames(reply.raw, native ? upstream.sse() : translate(upstream, writer), {
        headers: { [REQUEST_ID_HEADER]: request.id, [ANTHROPIC_REQUEST_ID_HEADER]: request.id, ...limitHeaders, ...headers },
        hangup: hangup.signal,
        writeTimeoutMs: live.config.server.writeTimeout,
        keepAliveMs,
        cancel: () => upstream.cancel(),
        errorFrame: (err) => errorEvent(toAnthropicErrorReply(err).body),
      });
      life.streamEnded(result.deployment, outcome, { attempts: result.attempts, usage: upstream.usage ?? writer.usageSeen, streamTailMs: performance.now() - firstChunkAt, ttftMs, upstreamTtftMs: result.latencyMs });
    },
  );

  app.post<{ Body: Pick<MessagesRequest, 'model' | 'messages' | 'system' | 'tools'> }>(
    '/v1/messages/count_tokens',
    { schema: { body: countTokensBodySchema }, onRequest: [anthropicRequestId, liveHook(opts.live, 'anthropicAuth')], errorHandler: anthropicErrorHandler },
    async (request, reply) => {
      const model = request.body.model;
      const live = opts.live.current;
      const route = keyAllowsModel(request.clientKey, model) ? live.routes.get(model) : undefined;
      if (route === undefined) throw modelNotFound(model);
      if (!route.endpoints.includes('chat')) throw wrongEndpoint(model, 'POST /v1/messages/count_tokens', route.endpoints);
      const exact = opts.pool === undefined ? undefined : await exactCount(opts.pool, live.config, route, request);
      reply.header(TOKEN_COUNT_HEADER, exact === undefined ? 'estimate' : 'exact');
      return { input_tokens: exact ?? estimateInputTokens(request.body) };
    },
  );
}

/** `exact` when an `anthropic` deployment counted the tokens, `estimate` otherwise. */
export const TOKEN_COUNT_HEADER = 'x-adapterpool-token-count';

/**
 * Anthropic's own count, from the route's first deployment on an `anthropic` provider (its adapter
 * borrowed for the call, waiting at most `routing.fullPoolWait`); undefined when the route has none or
 * the count failed (logged): the caller estimates then. Not routed: a count is no request to the
 * deployment's limits or circuit.
 */
async function exactCount(pool: NonNullable<MessagesRouteOptions['pool']>, config: GatewayConfig, route: ModelRoute, request: FastifyRequest): Promise<number | undefined> {
  const d = route.deployments.find((x) => config.providers[x.provider]?.type === 'anthropic');
  if (d === undefined) return undefined;
  const beta = headerValue(request.headers['anthropic-beta']);
  try {
    return await pool.withAdapter(d.model, d.provider, (a) => (a instanceof AnthropicAdapter ? a.countTokens(request.body as Record<string, unknown>, { beta }) : undefined), { timeoutMs: config.routing.fullPoolWait });
  } catch (err) {
    request.log.warn({ err, deployment: d.key }, 'count_tokens: the upstream did not count; answered with the estimate');
    return undefined;
  }
}

/** The upstream's OpenAI chunks as Anthropic frames, closed by `message_delta` and `message_stop`. */
async function* translate(upstream: ChatCompletionStream, writer: MessagesStreamWriter): AsyncGenerator<string> {
  let last: ChatCompletionChunk | undefined;
  for await (const chunk of upstream) {
    last = chunk;
    yield writer.push(chunk);
  }
  yield writer.end(last, upstream.usage);
}

function headerValue(h: string | string[] | undefined): string | undefined {
  if (h === undefined) return undefined;
  return Array.isArray(h) ? h.join(',') : h;
}

/** What these routes answer an error with (Anthropic's table: 500 `api_error`, 529 `overloaded_error`). */
const anthropicStatusOf = (err: unknown): number => toAnthropicErrorReply(err).status;
