import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestAsyncHookHandler, onRequestHookHandler } from 'fastify';
import { HangupSignal } from '../hangup-signal.js';
import { enter, leave, type ConfigHolder, type GatewaySnapshot } from './snapshot.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The config this request runs on, captured when it arrived (model requests: chat completions, messages, embeddings). */
    liveConfig: GatewaySnapshot | null;
    /** Model requests: fires when the client hangs up (the response closes before its end). */
    hangup: HangupSignal | null;
  }
}

type AuthField = 'apiAuth' | 'anthropicAuth' | 'readAuth' | 'adminAuth';

/** An onRequest hook that applies the current snapshot's auth rule (keys change on reload). */
export function liveHook(holder: ConfigHolder, field: AuthField): onRequestAsyncHookHandler {
  return async function (request: FastifyRequest) {
    holder.current[field]?.(request);
  };
}

/**
 * The first hook of a model request (chat completions, messages, embeddings): capture the running
 * snapshot (one reference read), count the request on it until its response closes (streams
 * included), then check its API key against that same snapshot. Callback-style and synchronous: on
 * the hot path it costs no promise and no microtask hop before the body is read.
 *
 * The response's one `close` listener of our own: it leaves the snapshot and, when the response did
 * not end first, fires the request's hang-up signal (which aborts its upstream call or stream relay).
 */
export function enterHook(holder: ConfigHolder, auth: 'apiAuth' | 'anthropicAuth'): onRequestHookHandler {
  return function (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    const s = holder.current;
    request.liveConfig = s;
    enter(s);
    const hangup = (request.hangup = new HangupSignal());
    const res = reply.raw;
    res.on('close', () => {
      leave(s);
      if (!res.writableEnded) hangup.abort();
    });
    const check = s[auth];
    if (check !== undefined) {
      try {
        check(request);
      } catch (err) {
        done(err as Error);
        return;
      }
    }
    done();
  };
}
