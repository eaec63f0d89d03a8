import type { ChatCompletionChunk, Usage } from '../../providers/types.js';
import { estimatedUsage, messageId, stopOf, toAnthropicUsage } from './response.js';
import type { AnthropicErrorBody } from './errors.js';

/** One Anthropic SSE event. */
function eventFrame(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** An error after the first byte: Anthropic's `error` event ends the stream. */
export function errorEvent(body: AnthropicErrorBody): string {
  return eventFrame('error', body);
}

export interface StreamWriterOptions {
  /**
   * `message_start`'s `input_tokens`: Anthropic sends the real count there and older SDKs read it only
   * there, but an OpenAI stream reports usage at its end — so the gateway's estimate goes first and
   * `message_delta` carries the upstream's count (newer SDKs take that one), or, when the upstream
   * reported none, the estimates again (`estimatedUsage`).
   */
  inputTokens?: number;
}

/** Content that arrived while a tool call's block was open: sent whole after it, at the end. */
type HeldBlock = { kind: 'text'; text: string } | { kind: 'tool_use'; id: string | undefined; name: string; args: string };

/**
 * OpenAI chunks -> Anthropic's stream events, as the Messages API sends them: `message_start` and a
 * `ping`, then per content block `content_block_start`, its deltas (`text_delta`, `input_json_delta`)
 * and `content_block_stop`, then `message_delta` (stop reason and usage) and `message_stop`.
 * Feed every chunk to `push`, then call `end`; each returns the frames to write.
 *
 * Anthropic's blocks follow one another, but OpenAI's parallel tool calls may interleave (a chunk
 * that starts calls 0 and 1, then more arguments for 0). So text streams as it comes until the first
 * tool call; that call's block then stays open and streams its arguments, and whatever starts after
 * it (other calls, more text) is held and sent whole, in the order it began, when the stream ends.
 */
export class MessagesStreamWriter {
  private started = false;
  /** Index of the last block started; -1 before any. */
  private index = -1;
  private open: 'text' | 'tool_use' | undefined;
  /** The tool call whose block is open and streams (its key, see toolKey); once set, it stays open to the end. */
  private liveTool: number | undefined;
  /** Tool calls seen (live or held), by key. */
  private readonly tools = new Map<number, HeldBlock | undefined>();
  private readonly held: HeldBlock[] = [];
  /** The key and id of the tool call seen last, for pieces that come without an index. */
  private lastToolKey: number | undefined;
  private lastToolId: string | undefined;
  private finish: Record<string, unknown> | undefined;
  private usage: Usage | undefined;
  /** Characters of text and tool calls sent: the output estimate when the upstream reports no usage. */
  private outputChars = 0;

  constructor(
    private readonly requestModel: string,
    private readonly stopSequences: readonly string[] | undefined,
    private readonly options: StreamWriterOptions = {},
  ) {}

  push(chunk: ChatCompletionChunk): string {
    let out = this.started ? '' : this.start(chunk);
    if (chunk.usage) this.usage = chunk.usage;
    const choice = chunk.choices?.[0];
    if (choice === undefined) return out;
    const delta = choice.delta ?? {};
    if (typeof delta.content === 'string' && delta.content !== '') {
      this.outputChars += delta.content.length;
      if (this.liveTool !== undefined) this.holdText(delta.content);
      else {
        if (this.open !== 'text') out += this.startBlock({ type: 'text', text: '' }, 'text');
        out += eventFrame('content_block_delta', { type: 'content_block_delta', index: this.index, delta: { type: 'text_delta', text: delta.content } });
      }
    }
    for (const tc of delta.tool_calls ?? []) {
      const n = this.toolKey(tc.index, tc.id);
      this.lastToolKey = n;
      if (tc.id !== undefined) this.lastToolId = tc.id;
      const args = tc.function?.arguments ?? '';
      this.outputChars += args.length + (tc.function?.name?.length ?? 0);
      if (n === this.liveTool) {
        if (args !== '') out += eventFrame('content_block_delta', { type: 'content_block_delta', index: this.index, delta: { type: 'input_json_delta', partial_json: args } });
        continue;
      }
      const held = this.tools.get(n);
      if (held?.kind === 'tool_use') {
        held.args += args;
        held.id ??= tc.id;
        if (held.name === '') held.name = tc.function?.name ?? '';
      } else if (this.liveTool === undefined) {
        out += this.startBlock({ type: 'tool_use', id: tc.id ?? `toolu_${this.index + 1}`, name: tc.function?.name ?? '', input: {} }, 'tool_use');
        this.liveTool = n;
        this.tools.set(n, undefined);
        if (args !== '') out += eventFrame('content_block_delta', { type: 'content_block_delta', index: this.index, delta: { type: 'input_json_delta', partial_json: args } });
      } else {
        const block: HeldBlock = { kind: 'tool_use', id: tc.id, name: tc.function?.name ?? '', args };
        this.tools.set(n, block);
        this.held.push(block);
      }
    }
    if (choice.finish_reason != null) this.finish = choice as unknown as Record<string, unknown>;
    return out;
  }

  /**
   * The closing events, once the upstream stream ended well: the open block's stop, the held blocks
   * whole, then the stop reason and usage. `usage` is what the upstream stream read (its usage chunk,
   * which the adapter may have kept from the chunks when it asked for it itself).
   */
  end(fallback?: ChatCompletionChunk, usage?: Usage): string {
    let out = this.started ? '' : this.start(fallback);
    for (const block of this.held) {
      if (block.kind === 'text') {
        out += this.startBlock({ type: 'text', text: '' }, 'text');
        out += eventFrame('content_block_delta', { type: 'content_block_delta', index: this.index, delta: { type: 'text_delta', text: block.text } });
      } else {
        out += this.startBlock({ type: 'tool_use', id: block.id ?? `toolu_${this.index + 1}`, name: block.name, input: {} }, 'tool_use');
        if (block.args !== '') out += eventFrame('content_block_delta', { type: 'content_block_delta', index: this.index, delta: { type: 'input_json_delta', partial_json: block.args } });
      }
    }
    this.held.length = 0;
    out += this.closeBlock();
    if (usage !== undefined) this.usage = usage;
    const stop = stopOf(this.finish, this.stopSequences, this.tools.size > 0);
    out += eventFrame('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stop.reason, stop_sequence: stop.sequence, stop_details: null },
      usage: this.usage ? toAnthropicUsage(this.usage) : estimatedUsage(this.options.inputTokens ?? 0, this.outputChars),
    });
    return out + eventFrame('message_stop', { type: 'message_stop' });
  }

  get usageSeen(): Usage | undefined {
    return this.usage;
  }

  private start(chunk: ChatCompletionChunk | undefined): string {
    this.started = true;
    const message = {
      id: messageId(chunk?.id),
      type: 'message',
      role: 'assistant',
      model: chunk?.model || this.requestModel,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      // An OpenAI stream tells its input tokens at its end (message_delta): the estimate stands in until then.
      usage: { input_tokens: this.options.inputTokens ?? 0, output_tokens: 0, cache_creation_input_tokens: null, cache_read_input_tokens: null },
    };
    return eventFrame('message_start', { type: 'message_start', message }) + eventFrame('ping', { type: 'ping' });
  }

  /**
   * A tool call's key: its `index`; without one (servers that leave it out), a new id starts a new
   * call and a piece with no id continues the call before it.
   */
  private toolKey(index: number | undefined, id: string | undefined): number {
    if (index !== undefined) return index;
    if (this.lastToolKey !== undefined && (id === undefined || id === this.lastToolId)) return this.lastToolKey;
    let key = -1;
    while (this.tools.has(key)) key--;
    return key;
  }

  private holdText(text: string): void {
    const last = this.held.at(-1);
    if (last?.kind === 'text') last.text += text;
    else this.held.push({ kind: 'text', text });
  }

  private startBlock(block: Record<string, unknown>, kind: 'text' | 'tool_use'): string {
    const out = this.closeBlock();
    this.index++;
    this.open = kind;
    return out + eventFrame('content_block_start', { type: 'content_block_start', index: this.index, content_block: block });
  }

  private closeBlock(): string {
    if (this.open === undefined) return '';
    this.open = undefined;
    return eventFrame('content_block_stop', { type: 'content_block_stop', index: this.index });
  }
}
