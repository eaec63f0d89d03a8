import { anthropicErrorType, anthropicStatus } from '../../providers/anthropic/mapping.js';
import { toErrorReply } from '../errors.js';

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
