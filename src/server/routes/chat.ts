import type { FastifyInstance, FastifyReply } from 'fastify';
import { completionText } from '../../providers/index.js';
import type { ChatCompletionRequest } from '../../providers/types.js';
import type { Router } from '../../routing/index.js';
import type { RouteResult, StreamResult } from '../../routing/types.js';
import { REQUEST_ID_HEADER } from '../edge.js';
import { ATTEMPTS_HEADER, DEPLOYMENT_HEADER } from '../error-reply.js';
import type { HangupSignal } from '../hangup-signal.js';
import { enterHook } from '../live/hooks.js';
import type { ConfigHolder } from '../live/snapshot.js';
import type { KeyLimits } from '../rate-limits.js';
import { CLIENT_GONE, RequestLifecycle, type RequestTelemetry, type RequestUsage } from '../request-lifecycle.js';
import { chatCompletionBodySchema } from '../schemas.js';
import { chatErrorFrame, FirstEventWait, pipeSse, type PipeResult } from '../sse.js';

/** What fastify sends for an object: a passed-through text goes out with the same header. */
const JSON_TYPE = 'application/json; charset=utf-8';

export interface ChatRouteOptions {
  router: Pick<Router, 'route'>;
  /** The running config (routes, client keys), captured once per request. */
  live: ConfigHolder;
  /** Request metrics and the per-request log line (absent: neither). */
  telemetry?: ChatTelemetry;
  /** Per-key rpm / tpm / maxConcurrent (absent: none). */
  keyLimits?: KeyLimits;
  /** The usage ledger (absent: nothing recorded). */
  usage?: ChatUsage;
}

export type ChatUsage = RequestUsage;
export type ChatTelemetry = RequestTelemetry;

/** `POST /v1/chat/completions`, streaming and not, through `router.route`. */
export function registerChatRoutes(app: FastifyInstance, opts: ChatRouteOptions): void {
  const { router } = opts;

  app.post<{ Body: ChatCompletionRequest }>(
    '/v1/chat/completions',
    { schema: { body: chatCompletionBodySchema }, onRequest: [enterHook(opts.live, 'apiAuth')] },
    async (request, reply) => {
      const body = request.body;
      // The config this request arrived on (captured by the enter hook): it finishes on it.
      const live = request.liveConfig!;
      const life = new RequestLifecycle(opts, request, { what: 'chat completion', model: body.model, stream: body.stream === true, prompt: { field: 'messages', value: body.messages } });
      const route = life.resolve(live.routes, 'chat', 'POST /v1/chat/completions');
      const admitting = life.admit(body);
      const limitHeaders = admitting === undefined ? undefined : await admitting;
      if (limitHeaders !== undefined) reply.headers(limitHeaders);

      // The request's hang-up signal (the enter hook fires it): it aborts the upstream call, and a stream's relay.
      const res = reply.raw;
      const hangup = life.hangup();

      // A stream whose first event is slow in coming gets keep-alive comments (server.streamKeepAlive).
      const keepAliveMs = live.config.server.streamKeepAlive;
      const wait = body.stream === true && keepAliveMs > 0 ? new FirstEventWait(res, { [REQUEST_ID_HEADER]: request.id, ...limitHeaders }, keepAliveMs, () => reply.hijack()) : undefined;
      let result: RouteResult;
      try {
        result = await router.route(body, route, { signal: hangup.signal, requestId: request.id });
      } catch (err) {
        // The head is out: the error event tells the client (at the shutdown deadline, the shutdown's).
        if (wait?.committed === true) return void wait.fail(life.failed(err), chatErrorFrame);
        wait?.stop();
        return life.fail(err);
      }
      wait?.stop();
      life.answering();

      if (result.kind === 'completion') {
        // The answer first, then the bookkeeping (metrics, log line, ledger row, the limits' settling):
        // the client does not wait for it. Both happen in this same tick, so nothing is seen out of order.
        // The upstream's own text when the provider kept it: sent as it came, no parse, no re-serialize.
        try {
          const text = completionText(result.completion);
          if (text !== undefined) sendText(reply, text, [REQUEST_ID_HEADER, request.id, DEPLOYMENT_HEADER, result.deployment.key, ATTEMPTS_HEADER, String(result.attempts)], limitHeaders);
          else reply.header(DEPLOYMENT_HEADER, result.deployment.key).header(ATTEMPTS_HEADER, String(result.attempts)).send(result.completion);
        } finally {
          life.finish(result.deployment, 200, { attempts: result.attempts, usage: result.completion.usage, served: true });
        }
        return reply;
      }

      const headers: Record<string, string> = { [DEPLOYMENT_HEADER]: result.deployment.key, [ATTEMPTS_HEADER]: String(result.attempts) };
      const firstChunkAt = performance.now();
      const ttftMs = firstChunkAt - life.startedMs;
      if (hangup.aborted) {
        result.stream.cancel();
        life.streamEnded(result.deployment, CLIENT_GONE, { attempts: result.attempts, usage: result.stream.usage, ttftMs, upstreamTtftMs: result.latencyMs });
        return reply.hijack();
      }
      const outcome = await streamReply(reply, result, { [REQUEST_ID_HEADER]: request.id, ...limitHeaders, ...headers }, hangup, live.config.server);
      life.streamEnded(result.deployment, outcome, { attempts: result.attempts, usage: result.stream.usage, streamTailMs: performance.now() - firstChunkAt, ttftMs, upstreamTtftMs: result.latencyMs });
    },
  );
}

/**
 * A completion's text, written on the raw response with its whole head in one `writeHead` (a flat
 * header list: Node's fast path). Why not `reply.send`: its serializer check, onSend hooks and header
 * object cost a few µs a request, and none of them has anything to add here — the one onSend hook (a
 * limited key's x-ratelimit-* headers) would find them in `limitHeaders` already.
 */
function sendText(reply: FastifyReply, text: string, head: string[], limitHeaders: Readonly<Record<string, string>> | undefined): void {
  reply.hijack();
  head.push('content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(text)));
  if (limitHeaders !== undefined) for (const k in limitHeaders) head.push(k, limitHeaders[k]!);
  reply.raw.writeHead(200, head).end(text);
}

async function streamReply(reply: FastifyReply, result: StreamResult, headers: Record<string, string>, hangup: HangupSignal, server: { writeTimeout: number; streamKeepAlive: number }): Promise<PipeResult> {
  reply.hijack();
  // A broken stream is logged once, by the request's own line (life.finish), with the detail.
  return pipeSse(reply.raw, result.stream, headers, hangup.signal, server.writeTimeout, server.streamKeepAlive);
}
