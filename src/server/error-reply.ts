import type { FastifyReply, FastifyRequest } from 'fastify';
import { routeTrace } from '../routing/index.js';
import { errorDetail, toErrorReply } from './errors.js';
import { lineWritten } from './request-lifecycle.js';

/** The deployment that answered a routed request (or, on its error reply, the one it tried last). */
export const DEPLOYMENT_HEADER = 'x-adapterpool-deployment';
/** The upstream calls a routed request made. */
export const ATTEMPTS_HEADER = 'x-adapterpool-attempts';

/**
 * The same two headers on a routed request's error reply: the upstream calls it made and the
 * deployment it tried last (none when it reached no deployment). Undefined for other errors.
 */
export function traceHeaders(err: unknown): Record<string, string> | undefined {
  const trace = routeTrace(err);
  if (trace === undefined) return undefined;
  const h: Record<string, string> = { [ATTEMPTS_HEADER]: String(trace.attempts) };
  if (trace.deployment !== undefined) h[DEPLOYMENT_HEADER] = trace.deployment.key;
  return h;
}

/** How one API tells a failure: its status, body, Retry-After (seconds) and extra headers. */
export type ErrorShape = (err: unknown) => { status: number; body: unknown; retryAfterSeconds?: number; headers?: Readonly<Record<string, string>> };

/**
 * A failure that reached a fastify error handler, answered in `shape` (OpenAI's, Anthropic's): the
 * request's lifecycle ends with it; one log line per request (a routed request wrote its own; a stack
 * only for our own bugs); Retry-After, the error's own headers and the route trace's.
 */
export function answerError(err: unknown, request: FastifyRequest, reply: FastifyReply, shape: ErrorShape = toErrorReply): FastifyReply {
  request.lifecycle?.endedBy(err);
  const table = toErrorReply(err);
  const r = shape === toErrorReply ? table : shape(err);
  if (r.status >= 500 && !lineWritten(request)) {
    const code = table.body.error.code;
    if (code === 'internal_error') request.log.error({ err }, 'request failed');
    else request.log.warn({ event: 'request_failed', status: r.status, error: code, detail: errorDetail(err) }, 'request failed');
  } else request.log.debug({ err, status: r.status }, 'request rejected');
  if (r.retryAfterSeconds !== undefined) reply.header('retry-after', String(r.retryAfterSeconds));
  if (r.headers !== undefined) reply.headers(r.headers);
  const trace = traceHeaders(err);
  if (trace !== undefined) reply.headers(trace);
  // Node knows no reason phrase for Anthropic's 529 and would send "529 unknown".
  if (r.status === 529) reply.raw.statusMessage = 'Overloaded';
  return reply.code(r.status).send(r.body);
}
