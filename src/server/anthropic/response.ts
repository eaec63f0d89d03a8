import { toStopReason } from '../../providers/anthropic/mapping.js';
import type { ChatCompletion, ChatMessage, Usage } from '../../providers/types.js';
import { CHARS_PER_TOKEN } from '../../routing/index.js';
import type { AnthropicOutUsage, MessagesResponse, OutboundBlock } from './types.js';

/**
 * An OpenAI chat completion -> an Anthropic message. Text first, then one tool_use block per tool call
 * (OpenAI's message has no order between them); `reasoning_content` is dropped (an Anthropic thinking
 * block needs a signature no other provider can make).
 */
export function toMessagesResponse(c: ChatCompletion, requestModel: string, stopSequences: readonly string[] | undefined, inputEstimate = 0): MessagesResponse {
  const choice = c.choices[0];
  const content: OutboundBlock[] = [];
  const text = textOf(choice?.message.content);
  if (text !== '') content.push({ type: 'text', text });
  for (const call of choice?.message.tool_calls ?? []) content.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseInput(call.function.arguments) });
  const stop = stopOf(choice as Record<string, unknown> | undefined, stopSequences, content.some((b) => b.type === 'tool_use'));
  let outputChars = text.length;
  for (const call of choice?.message.tool_calls ?? []) outputChars += call.function.name.length + call.function.arguments.length;
  return {
    id: messageId(c.id),
    type: 'message',
    role: 'assistant',
    model: c.model || requestModel,
    content,
    stop_reason: stop.reason,
    stop_sequence: stop.sequence,
    // `stop_details` is what the SDK's stream accumulator sets from message_delta: present here too, so
    // `messages.create` and a stream's `finalMessage()` agree.
    stop_details: null,
    usage: c.usage ? toAnthropicUsage(c.usage) : estimatedUsage(inputEstimate, outputChars),
  } as MessagesResponse;
}

/**
 * Usage for an answer whose upstream reported none (an OpenAI-compatible stream not asked for it):
 * the gateway's estimates (`count_tokens`' for the input, the same characters per token for the
 * output), not zeros that tell a client its context is empty.
 */
export function estimatedUsage(inputTokens: number, outputChars: number): AnthropicOutUsage {
  return { input_tokens: inputTokens, output_tokens: Math.ceil(outputChars / CHARS_PER_TOKEN), cache_creation_input_tokens: null, cache_read_input_tokens: null };
}

/** OpenAI usage -> Anthropic's: `input_tokens` excludes cached input, which Anthropic reports apart. */
export function toAnthropicUsage(u: Usage | null | undefined): AnthropicOutUsage {
  const prompt = u?.prompt_tokens ?? 0;
  const cached = (u?.prompt_tokens_details as { cached_tokens?: number } | undefined)?.cached_tokens ?? 0;
  return {
    input_tokens: prompt - cached,
    output_tokens: u?.completion_tokens ?? 0,
    cache_creation_input_tokens: null,
    cache_read_input_tokens: cached > 0 ? cached : null,
  };
}

/**
 * finish_reason -> stop_reason. OpenAI does not say which stop sequence ended the text; vLLM
 * (`stop_reason`) and SGLang (`matched_stop`) do, and then the answer is `stop_sequence`.
 */
export function stopOf(choice: Record<string, unknown> | undefined, stopSequences: readonly string[] | undefined, calledTools: boolean): { reason: string; sequence: string | null } {
  const finish = (choice?.finish_reason as string | null | undefined) ?? null;
  // Some servers end a turn that called tools with `stop` (or no reason); Anthropic pairs tool_use blocks with `tool_use`, which agents loop on.
  if (calledTools && (finish === null || finish === 'stop' || finish === 'tool_calls' || finish === 'function_call')) return { reason: 'tool_use', sequence: null };
  if (finish === 'stop' && stopSequences !== undefined && stopSequences.length > 0) {
    const matched = [choice?.stop_reason, choice?.matched_stop].find((m): m is string => typeof m === 'string' && stopSequences.includes(m));
    if (matched !== undefined) return { reason: 'stop_sequence', sequence: matched };
  }
  return { reason: toStopReason(finish), sequence: null };
}

export function messageId(id: string | undefined): string {
  if (!id) return 'msg_adapterpool';
  return id.startsWith('msg_') ? id : `msg_${id}`;
}

/** Tool arguments are a JSON string in OpenAI and an object in Anthropic; malformed ones keep their text. */
function parseInput(args: string | undefined): unknown {
  if (!args) return {};
  try {
    const v: unknown = JSON.parse(args);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : { value: v };
  } catch {
    return { _raw_arguments: args };
  }
}

function textOf(content: ChatMessage['content'] | undefined): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => (p.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('');
}
