import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { enter, leave, type ConfigHolder, type GatewaySnapshot } from './snapshot.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The config this request runs on, captured when it arrived (chat requests). */
    liveConfig: GatewaySnapshot | null;
  }
}

type AuthField = 'apiAuth' | 'anthropicAuth' | 'readAuth' | 'adminAuth';

/** An onRequest hook that applies the current snapshot's auth rule (keys change on reload). */
export function liveHook(holder: ConfigHolder, field: AuthField): onRequestAsyncHookHandler {
  return async function (this: unknown, request: FastifyRequest, reply: FastifyReply) {
    const check = holder.current[field];
    if (check !== undefined) await check.call(this as never, request, reply);
  };
}

/**
 * The first hook of a chat request: capture the running snapshot (one reference read), count the
 * request on it until its response closes (streams included), then check its API key against that
 * same snapshot. The reloader drains a removed deployment only when no counted request can reach it.
 */
export function enterHook(holder: ConfigHolder, auth: 'apiAuth' | 'anthropicAuth'): onRequestAsyncHookHandler {
  return async function (this: unknown, request: FastifyRequest, reply: FastifyReply) {
    const s = holder.current;
    request.liveConfig = s;
    enter(s);
    reply.raw.once('close', () => leave(s));
    const check = s[auth];
    if (check !== undefined) await check.call(this as never, request, reply);
  };
}
