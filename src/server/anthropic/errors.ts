import { anthropicErrorType, anthropicStatus } from '../../providers/anthropic/mapping.js';
import { toErrorReply } from '../errors.js';

/** Where the Anthropic SDK reads a request's id (`error.requestID`). */
export const ANTHROPIC_REQUEST_ID_HEADER = 'request-id';

/**
 * A path of Anthropic's Messages API: the served routes and the rest of it (`/v1/messages/batches`, a
 * GET of `/v1/messages`), whose errors are Anthropic-shaped too. Read off the hot path only (errors,
 * the not-found route).
 */
export const isAnthropicPath = (path: string): boolean => path === '/v1/messages' || path.startsWith('/v1/messages/');

/** Anthropic's error body: `{"type":"error","error":{"type","message"}}`. */
export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

export interface AnthropicErrorReply {
  status: number;
  body: AnthropicErrorBody;
  retryAfterSeconds?: number;
  /** Extra response headers (e.g. `x-ratelimit-*`). */
  headers?: Readonly<Record<string, string>>;
}

/**
 * Anything thrown on `/v1/messages` -> Anthropic's shape, from the gateway's one error table
 * (`toErrorReply`): the same decisions (which upstream failure the client sees, what never leaks),
 * told the way the Anthropic SDK expects — each type with its status, overload as 529 and a timeout
 * as 504 `timeout_error` like Anthropic's own, other server failures as 500 `api_error`.
 */
export function toAnthropicErrorReply(err: unknown): AnthropicErrorReply {
  const r = toErrorReply(err);
  const type = anthropicErrorType(r.status);
  const status = r.status < 500 ? r.status : type === 'overloaded_error' || type === 'timeout_error' ? anthropicStatus(type) : 500;
  const out: AnthropicErrorReply = { status, body: { type: 'error', error: { type, message: r.body.error.message } } };
  if (r.retryAfterSeconds !== undefined) out.retryAfterSeconds = r.retryAfterSeconds;
  if (r.headers !== undefined) out.headers = r.headers;
  return out;
}
