import { createHash } from 'node:crypto';
import { imageUrlFromSource, TOOL_CHOICE_TO_OPENAI } from '../../providers/anthropic/mapping.js';
import type { ChatCompletionRequest, ChatMessage, ToolCall } from '../../providers/types.js';
import { capText } from '../../config/index.js';
import { ECHO_LIMIT, GatewayHttpError } from '../errors.js';
import type { InboundBlock, InboundTool, MessagesRequest } from './types.js';

/**
 * An Anthropic Messages request -> an OpenAI chat request, for deployments on every provider other than
 * `anthropic`. What has no OpenAI counterpart is dropped (`top_k`, `thinking`, `cache_control`, citations,
 * thinking blocks in the history); what cannot be expressed at all (documents, server tools) is refused
 * with a 400 naming the field.
 */
export function toChatRequest(req: MessagesRequest, stream: boolean): ChatCompletionRequest {
  const messages: ChatMessage[] = [];
  if (req.system !== undefined) {
    const text = typeof req.system === 'string' ? req.system : req.system.map((b) => b.text).join(BLOCK_SEPARATOR);
    if (text !== '') messages.push({ role: 'system', content: text });
  }
  req.messages.forEach((m, i) => {
    // Anthropic's own rule: only a final assistant turn (a prefill) may be empty; another one would vanish here.
    if (Array.isArray(m.content) && m.content.length === 0 && !(m.role === 'assistant' && i === req.messages.length - 1)) {
      throw new GatewayHttpError(400, `messages[${i}].content: all messages must have non-empty content except for the optional final assistant message.`, 'invalid_request_error', 'invalid_value', `messages[${i}].content`);
    }
    if (typeof m.content === 'string') messages.push({ role: m.role, content: m.content });
    else if (m.role === 'assistant') messages.push(assistantMessage(m.content, i));
    else messages.push(...userMessages(m.content, i));
  });

  const out: ChatCompletionRequest = { model: req.model, messages, max_tokens: req.max_tokens };
  if (req.temperature != null) out.temperature = req.temperature;
  if (req.top_p != null) out.top_p = req.top_p;
  if (req.stop_sequences !== undefined && req.stop_sequences.length > 0) out.stop = req.stop_sequences;
  if (req.metadata?.user_id) out.user = openAIUser(req.metadata.user_id);
  if (req.tools !== undefined && req.tools.length > 0) out.tools = req.tools.map(toTool);
  const tc = req.tool_choice;
  // OpenAI refuses tool_choice without tools ("only allowed when tools are specified").
  if (tc !== undefined && out.tools !== undefined) {
    out.tool_choice = tc.type === 'tool' ? { type: 'function', function: { name: tc.name ?? '' } } : TOOL_CHOICE_TO_OPENAI[tc.type] ?? 'auto';
    if (tc.disable_parallel_tool_use === true) out.parallel_tool_calls = false;
  }
  // No `stream_options` of our own: the adapter asks for usage where its provider takes the field
  // (`providers.*.streamUsage`; Mistral and Groq refuse it) and keeps what arrives for message_delta.
  if (stream) out.stream = true;
  return out;
}

/** OpenAI refuses a `user` over 64 characters (OpenRouter over 128); Claude Code's ids run to ~150. */
const OPENAI_USER_MAX_LENGTH = 64;

/** A longer id goes as its SHA-256 (64 hex digits): still one value per end user, as OpenAI suggests. */
function openAIUser(id: string): string {
  return id.length <= OPENAI_USER_MAX_LENGTH ? id : createHash('sha256').update(id).digest('hex');
}

/**
 * Blocks are separate pieces of text (a file's content, then a note after it): joined with a newline,
 * not glued into one word at the seam. As `system` blocks are.
 */
const BLOCK_SEPARATOR = '\n';

/** Assistant turn: text blocks -> content, tool_use blocks -> tool_calls; thinking blocks are dropped. */
function assistantMessage(blocks: InboundBlock[], i: number): ChatMessage {
  const texts: string[] = [];
  const calls: ToolCall[] = [];
  blocks.forEach((b, j) => {
    switch (b.type) {
      case 'text':
        texts.push((b as { text: string }).text);
        break;
      case 'tool_use': {
        const t = b as { id: string; name: string; input: unknown };
        calls.push({ id: t.id, type: 'function', function: { name: t.name, arguments: JSON.stringify(t.input ?? {}) } });
        break;
      }
      case 'thinking':
      case 'redacted_thinking':
        break; // a provider other than Anthropic cannot verify or use them
      default:
        throw unsupportedBlock(b.type, `messages[${i}].content[${j}].type`);
    }
  });
  const text = texts.join(BLOCK_SEPARATOR);
  const msg: ChatMessage = { role: 'assistant', content: calls.length > 0 && text === '' ? null : text };
  if (calls.length > 0) msg.tool_calls = calls;
  return msg;
}

/**
 * User turn: tool_result blocks become `role: "tool"` messages (first, since OpenAI wants them right after
 * the assistant's tool_calls), the rest one user message. Images inside a tool result go to that user
 * message, as OpenAI tool messages carry text only.
 */
function userMessages(blocks: InboundBlock[], i: number): ChatMessage[] {
  const tools: ChatMessage[] = [];
  const parts: Array<Record<string, unknown>> = [];
  blocks.forEach((b, j) => {
    const at = `messages[${i}].content[${j}]`;
    if (b.type === 'tool_result') {
      const r = b as { tool_use_id: string; content?: string | InboundBlock[]; is_error?: boolean };
      const texts: string[] = [];
      if (typeof r.content === 'string') texts.push(r.content);
      else {
        (r.content ?? []).forEach((c, k) => {
          if (c.type === 'text') texts.push((c as { text: string }).text);
          else if (c.type === 'image') parts.push(imagePart(c, `${at}.content[${k}]`));
          else throw unsupportedBlock(c.type, `${at}.content[${k}].type`);
        });
      }
      tools.push({ role: 'tool', tool_call_id: r.tool_use_id, content: texts.join(BLOCK_SEPARATOR) });
    } else if (b.type === 'text') parts.push({ type: 'text', text: (b as { text: string }).text });
    else if (b.type === 'image') parts.push(imagePart(b, at));
    else throw unsupportedBlock(b.type, `${at}.type`);
  });
  if (parts.length === 0) return tools;
  // A lone text part goes as a plain string: some OpenAI-compatible providers take nothing else.
  const content = parts.length === 1 && parts[0]!.type === 'text' ? (parts[0]!.text as string) : parts;
  return [...tools, { role: 'user', content }];
}

function imagePart(b: InboundBlock, at: string): Record<string, unknown> {
  const source = (b as { source?: { type?: string } }).source;
  if (source?.type !== 'base64' && source?.type !== 'url') {
    throw new GatewayHttpError(400, `${at}.source: only base64 and url images can be sent to this model's provider.`, 'invalid_request_error', 'invalid_value', `${at}.source`);
  }
  return { type: 'image_url', image_url: { url: imageUrlFromSource(source as Parameters<typeof imageUrlFromSource>[0]) } };
}

function toTool(t: InboundTool, i: number): NonNullable<ChatCompletionRequest['tools']>[number] {
  if (t.type !== undefined && t.type !== 'custom') {
    throw new GatewayHttpError(
      400,
      `tools[${i}]: the server tool "${capText(t.type, ECHO_LIMIT)}" runs only on Anthropic's own API; this model's provider takes client tools (name, description, input_schema).`,
      'invalid_request_error',
      'unsupported_value',
      `tools[${i}].type`,
    );
  }
  const fn: { name: string; description?: string; parameters?: Record<string, unknown> } = { name: t.name, parameters: t.input_schema ?? { type: 'object', properties: {} } };
  if (t.description !== undefined) fn.description = t.description;
  return { type: 'function', function: fn };
}

function unsupportedBlock(type: string, param: string): GatewayHttpError {
  return new GatewayHttpError(400, `${param}: content blocks of type "${capText(type, ECHO_LIMIT)}" cannot be sent to this model's provider.`, 'invalid_request_error', 'unsupported_value', param);
}
