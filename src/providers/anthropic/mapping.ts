/**
 * The correspondence between Anthropic's Messages API and OpenAI's Chat Completions, in one place.
 * Each direction reads its own tables: the outbound translation (an OpenAI request to an `anthropic`
 * provider, `translate.ts` / `stream.ts`) reads `STOP_REASON_TO_FINISH_REASON`, `OPENAI_ROLE_TO_ANTHROPIC`
 * and `TOOL_CHOICE_FROM_OPENAI`; the inbound one (an Anthropic client on `POST /v1/messages`,
 * `src/server/anthropic/`) reads `FINISH_REASON_TO_STOP_REASON` and `TOOL_CHOICE_TO_OPENAI`. Keeping the
 * opposite tables next to each other is what keeps them consistent; test/server/anthropic-translate.test.ts
 * checks that a round trip through both directions gives back what went in.
 */

import type { AnthropicContentBlock } from './types.js';

/** Anthropic `stop_reason` -> OpenAI `finish_reason`. */
export const STOP_REASON_TO_FINISH_REASON: Readonly<Record<string, string>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  refusal: 'content_filter',
};

/**
 * OpenAI `finish_reason` -> Anthropic `stop_reason`. `stop` is `end_turn` unless the upstream says which
 * stop sequence matched (then `stop_sequence`: `stopOf` in src/server/anthropic/response.ts).
 */
export const FINISH_REASON_TO_STOP_REASON: Readonly<Record<string, string>> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

/** OpenAI message roles -> where they go in an Anthropic request (`system` is the top-level `system` field). */
export const OPENAI_ROLE_TO_ANTHROPIC: Readonly<Record<string, 'system' | 'user' | 'assistant'>> = {
  system: 'system',
  developer: 'system',
  user: 'user',
  assistant: 'assistant',
  tool: 'user', // as a tool_result block
};

/** Anthropic `tool_choice.type` <-> OpenAI `tool_choice` strings (`tool` is `{type:"function",function:{name}}`). */
export const TOOL_CHOICE_TO_OPENAI: Readonly<Record<string, 'auto' | 'required' | 'none'>> = { auto: 'auto', any: 'required', none: 'none' };
export const TOOL_CHOICE_FROM_OPENAI: Readonly<Record<string, 'auto' | 'any' | 'none'>> = { auto: 'auto', required: 'any', none: 'none' };

/** Anthropic error `type` <-> HTTP status (docs.claude.com/en/api/errors). */
const ERROR_TYPE_STATUS: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  billing_error: 402,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

export function toFinishReason(stop: string | null | undefined): string | null {
  if (stop == null) return null;
  return STOP_REASON_TO_FINISH_REASON[stop] ?? 'stop';
}

export function toStopReason(finish: string | null | undefined): string {
  // A message that ended without a reason (no finish_reason, yet a well-ended answer) ended its turn:
  // Anthropic never finishes a message with `stop_reason: null`, and agents switch on it.
  if (finish == null) return 'end_turn';
  return FINISH_REASON_TO_STOP_REASON[finish] ?? 'end_turn';
}

/** Anthropic error type -> the HTTP status it comes with. */
export function anthropicStatus(type: string | undefined): number {
  return (type !== undefined ? ERROR_TYPE_STATUS[type] : undefined) ?? 500;
}

/** HTTP status -> Anthropic error type (503 is `overloaded_error` like Anthropic's own 529; 504 its `timeout_error`). */
export function anthropicErrorType(status: number): string {
  switch (status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return status === 413 ? 'request_too_large' : 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    case 504:
      return 'timeout_error';
    default:
      return status >= 400 && status < 500 ? 'invalid_request_error' : 'api_error';
  }
}

/** An OpenAI image URL (a `data:` URL or a web one) -> an Anthropic image block. */
export function imageBlockFromUrl(url: string): AnthropicContentBlock {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  if (m) return { type: 'image', source: { type: 'base64', media_type: m[1]!, data: m[2]! } };
  return { type: 'image', source: { type: 'url', url } };
}

/** An Anthropic image source -> an OpenAI image URL (base64 becomes a `data:` URL). */
export function imageUrlFromSource(source: Extract<AnthropicContentBlock, { type: 'image' }>['source']): string {
  return source.type === 'base64' ? `data:${source.media_type};base64,${source.data}` : source.url;
}
