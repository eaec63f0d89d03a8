import type { ChatCompletionRequest } from '../../providers/types.js';

/**
 * Token estimates for reservations. No tokenizer: reservations are corrected from the upstream's
 * `usage` when the response ends, so a rough, cheap estimate (about 4 characters a token, the usual
 * figure for English; CJK text runs closer to 1-2, so it under-reserves there) is enough.
 */

/** Characters a token, for every estimate the gateway makes (reservations, count_tokens, embeddings input). */
export const CHARS_PER_TOKEN = 4;
/** Role and framing tokens per message (OpenAI's chat format adds about this many). */
const PER_MESSAGE = 4;

/** A rough prompt size: message text, tool definitions and tool calls. */
export function estimatePromptTokens(request: ChatCompletionRequest): number {
  let chars = 0;
  let messages = 0;
  for (const m of request.messages ?? []) {
    messages++;
    const c = m.content;
    if (typeof c === 'string') chars += c.length;
    else if (Array.isArray(c)) {
      for (const part of c) {
        const text = (part as { text?: unknown }).text;
        if (typeof text === 'string') chars += text.length;
      }
    }
    if (m.tool_calls !== undefined) chars += JSON.stringify(m.tool_calls).length;
  }
  if (request.tools !== undefined) chars += JSON.stringify(request.tools).length;
  return Math.ceil(chars / CHARS_PER_TOKEN) + PER_MESSAGE * messages;
}

/** The completion tokens the request may use: its `max_completion_tokens` / `max_tokens`, else `defaultMaxTokens`. */
export function maxCompletionTokens(request: ChatCompletionRequest, defaultMaxTokens: number): number {
  const n = request.max_completion_tokens ?? request.max_tokens;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.ceil(n) : defaultMaxTokens;
}

/** Tokens to reserve before the call: prompt estimate + the completion's maximum. */
export function reservationTokens(request: ChatCompletionRequest, defaultMaxTokens: number): number {
  return estimatePromptTokens(request) + maxCompletionTokens(request, defaultMaxTokens);
}
