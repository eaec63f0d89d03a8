import { InvalidRequestError } from '../errors.js';
import { isRecord } from '../normalize-error.js';
import type { ChatCompletion, ChatCompletionRequest, ChatMessage, ToolCall, Usage } from '../types.js';
import { imageBlockFromUrl, OPENAI_ROLE_TO_ANTHROPIC, TOOL_CHOICE_FROM_OPENAI, toFinishReason } from './mapping.js';
import type { AnthropicContentBlock, AnthropicMessage, AnthropicRequest, AnthropicResponse, AnthropicUsage } from './types.js';

export { toFinishReason } from './mapping.js';

/** LiteLLM's default: Anthropic requires `max_tokens`, OpenAI callers often omit it. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

/** OpenAI fields with no Anthropic meaning: Anthropic answers 400 to unknown fields, so these are dropped. */
const OPENAI_ONLY = new Set([
  'model', 'messages', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'stop', 'user', 'tools',
  'tool_choice', 'parallel_tool_calls', 'temperature', 'n', 'frequency_penalty', 'presence_penalty', 'logit_bias',
  'logprobs', 'top_logprobs', 'seed', 'response_format', 'modalities', 'audio', 'prediction', 'store',
  'service_tier', 'reasoning_effort', 'functions', 'function_call', 'web_search_options', 'verbosity',
]);

/** `reasoning_effort` -> extended-thinking budget (LiteLLM's mapping). */
const THINKING_BUDGET: Readonly<Record<string, number>> = { minimal: 1024, low: 1024, medium: 2048, high: 4096 };

export interface ToAnthropicOptions {
  model: string;
  defaultMaxTokens?: number;
  stream?: boolean;
}

/** OpenAI chat request -> Anthropic Messages request. Fields Anthropic knows (`top_k`, `thinking`, `metadata`, ...) pass through. */
export function toAnthropicRequest(req: ChatCompletionRequest, opts: ToAnthropicOptions): AnthropicRequest {
  assertTranslatable(req);
  const system: string[] = [];
  const messages: AnthropicMessage[] = [];
  const push = (role: 'user' | 'assistant', blocks: AnthropicContentBlock[]) => {
    if (blocks.length === 0) return;
    const last = messages[messages.length - 1];
    // Anthropic wants alternating roles: merge consecutive same-role turns (e.g. several tool results).
    if (last && last.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };

  for (const m of req.messages) {
    // Unknown roles are the user's, as the Anthropic API has only two.
    const target = OPENAI_ROLE_TO_ANTHROPIC[m.role] ?? 'user';
    if (target === 'system') system.push(textOf(m.content));
    else if (target === 'assistant') push('assistant', assistantBlocks(m));
    else if (m.role === 'tool') push('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id ?? '', content: toolResultContent(m.content) }]);
    else push('user', userBlocks(m.content));
  }

  const out: AnthropicRequest = {
    model: opts.model,
    max_tokens: req.max_completion_tokens ?? req.max_tokens ?? opts.defaultMaxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    messages,
  };
  for (const [k, v] of Object.entries(req)) if (!OPENAI_ONLY.has(k) && v !== undefined) out[k] = v;

  if (system.length > 0) out.system = system.join('\n\n');
  if (req.temperature != null) out.temperature = Math.min(req.temperature, 1);
  if (req.stop != null) out.stop_sequences = Array.isArray(req.stop) ? req.stop : [req.stop];
  if (req.user) out.metadata = { ...(out.metadata ?? {}), user_id: req.user };
  if (opts.stream) out.stream = true;
  if (typeof req.reasoning_effort === 'string' && out.thinking === undefined && THINKING_BUDGET[req.reasoning_effort]) {
    const budget = THINKING_BUDGET[req.reasoning_effort]!;
    out.thinking = { type: 'enabled', budget_tokens: budget };
    if (out.max_tokens <= budget) out.max_tokens = budget + ANTHROPIC_DEFAULT_MAX_TOKENS;
  }

  if (req.tools && req.tools.length > 0) {
    out.tools = req.tools.map((t) => ({
      name: t.function.name,
      ...(t.function.description ? { description: t.function.description } : {}),
      input_schema: t.function.parameters ?? { type: 'object', properties: {} },
    }));
  }
  const choice = toolChoice(req);
  if (choice) out.tool_choice = choice;
  return out;
}

/**
 * The fields the translation reads have the shapes OpenAI's API gives them (the route's schema checks
 * only what every provider needs; an OpenAI-compatible upstream judges the rest itself). Anything else
 * is the caller's mistake: a 400 naming the field, not a TypeError in the middle of the translation.
 */
function assertTranslatable(req: ChatCompletionRequest): void {
  // Dropping it would answer one choice as if that were what was asked.
  if (typeof req.n === 'number' && req.n > 1) invalid('n', 'must be 1: Anthropic models return one choice per request');
  req.messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    const content: unknown = m.content;
    if (Array.isArray(content)) {
      content.forEach((part: unknown, j) => {
        if (!isRecord(part)) invalid(`${at}.content[${j}]`, 'must be an object');
        if (part.type === 'image_url') {
          const ref = part.image_url;
          if (typeof ref !== 'string' && !(isRecord(ref) && typeof ref.url === 'string')) invalid(`${at}.content[${j}].image_url`, 'must be an object with a url');
        }
      });
    } else if (content != null && typeof content !== 'string') {
      invalid(`${at}.content`, 'must be a string or an array of content parts');
    }
    const calls: unknown = m.tool_calls;
    if (calls == null) return;
    if (!Array.isArray(calls)) invalid(`${at}.tool_calls`, 'must be an array');
    calls.forEach((c: unknown, j) => {
      if (!isRecord(c) || !isRecord(c.function) || typeof c.function.name !== 'string') invalid(`${at}.tool_calls[${j}].function.name`, 'must be a string');
    });
  });
  const tools: unknown = req.tools;
  if (tools != null) {
    if (!Array.isArray(tools)) invalid('tools', 'must be an array');
    tools.forEach((t: unknown, i) => {
      if (!isRecord(t) || !isRecord(t.function) || typeof t.function.name !== 'string') {
        invalid(`tools[${i}].function`, "must be a function tool's definition (function.name): this model's provider takes function tools only");
      }
    });
  }
  const tc: unknown = req.tool_choice;
  if (isRecord(tc) && !(isRecord(tc.function) && typeof tc.function.name === 'string')) invalid('tool_choice.function.name', 'must be a string');
  if (tc != null && typeof tc !== 'string' && !isRecord(tc)) invalid('tool_choice', 'must be a string or an object');
}

function invalid(param: string, what: string): never {
  throw new InvalidRequestError(`Invalid value for '${param}': ${what}.`, param);
}

function toolChoice(req: ChatCompletionRequest): AnthropicRequest['tool_choice'] {
  const tc = req.tool_choice;
  let choice: AnthropicRequest['tool_choice'];
  if (typeof tc === 'string' && TOOL_CHOICE_FROM_OPENAI[tc]) choice = { type: TOOL_CHOICE_FROM_OPENAI[tc] };
  else if (tc && typeof tc === 'object') choice = { type: 'tool', name: tc.function.name };
  if (req.parallel_tool_calls === false && req.tools?.length) {
    choice = { ...(choice ?? { type: 'auto' }), disable_parallel_tool_use: true };
  }
  return choice;
}

function assistantBlocks(m: ChatMessage): AnthropicContentBlock[] {
  const blocks: AnthropicContentBlock[] = [];
  const text = textOf(m.content);
  if (text) blocks.push({ type: 'text', text });
  for (const call of m.tool_calls ?? []) {
    blocks.push({ type: 'tool_use', id: call.id, name: call.function.name, input: parseArguments(call.function.arguments) });
  }
  return blocks;
}

function userBlocks(content: ChatMessage['content']): AnthropicContentBlock[] {
  if (content == null) return [];
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  const blocks: AnthropicContentBlock[] = [];
  for (const part of content) {
    if (part.type === 'text' && typeof part.text === 'string') blocks.push({ type: 'text', text: part.text });
    else if (part.type === 'image_url') blocks.push(imageBlock(part.image_url as { url: string } | string));
    else blocks.push(part as AnthropicContentBlock); // already Anthropic-shaped (document, ...): pass through
  }
  return blocks;
}

function imageBlock(ref: { url: string } | string): AnthropicContentBlock {
  return imageBlockFromUrl(typeof ref === 'string' ? ref : ref.url);
}

function toolResultContent(content: ChatMessage['content']): string | AnthropicContentBlock[] {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return userBlocks(content);
}

function textOf(content: ChatMessage['content']): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content
    .filter((p) => p.type === 'text' && typeof p.text === 'string')
    .map((p) => p.text as string)
    .join('');
}

function parseArguments(args: string): unknown {
  if (!args) return {};
  try {
    return JSON.parse(args);
  } catch {
    return {}; // Anthropic needs an object; a malformed argument string has no faithful translation
  }
}

// --- responses ----------------------------------------------------------------------------------

/** prompt_tokens counts cached input too (LiteLLM); the cache split stays visible. */
export function toUsage(u: AnthropicUsage): Usage {
  const input = u.input_tokens ?? 0;
  const cacheWrite = u.cache_creation_input_tokens ?? 0;
  const cacheRead = u.cache_read_input_tokens ?? 0;
  const output = u.output_tokens ?? 0;
  const prompt = input + cacheWrite + cacheRead;
  return {
    prompt_tokens: prompt,
    completion_tokens: output,
    total_tokens: prompt + output,
    prompt_tokens_details: { cached_tokens: cacheRead },
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
  };
}

/** Anthropic message -> OpenAI chat.completion (thinking -> `reasoning_content`, tool_use -> `tool_calls`). */
export function fromAnthropicResponse(res: AnthropicResponse, created = Math.floor(Date.now() / 1000)): ChatCompletion {
  let text = '';
  let reasoning = '';
  const toolCalls: ToolCall[] = [];
  for (const block of res.content ?? []) {
    if (block.type === 'text') text += block.text;
    else if (block.type === 'thinking') reasoning += block.thinking;
    else if (block.type === 'tool_use') {
      toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    }
  }
  const message: ChatCompletion['choices'][number]['message'] = { role: 'assistant', content: text || (toolCalls.length ? null : '') };
  if (reasoning) message.reasoning_content = reasoning;
  if (toolCalls.length) message.tool_calls = toolCalls;
  return {
    id: res.id,
    object: 'chat.completion',
    created,
    model: res.model,
    choices: [{ index: 0, message, finish_reason: toFinishReason(res.stop_reason), logprobs: null }],
    usage: toUsage(res.usage ?? {}),
  };
}
