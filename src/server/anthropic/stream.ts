import { ProviderError } from '../../providers/errors.js';
import type { ChatCompletionChunk, Usage } from '../../providers/types.js';
import { messageId, stopOf, toAnthropicUsage } from './response.js';
import type { AnthropicErrorBody } from './errors.js';

/** One Anthropic SSE event. */
export function eventFrame(type: string, data: unknown): string {
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
   * `message_delta` carries the upstream's count (newer SDKs take that one).
   */
  inputTokens?: number;
  /** The serving deployment's provider, named in the error of a stream that cannot be translated. */
  provider?: string;
}

/**
 * OpenAI chunks -> Anthropic's stream events, as the Messages API sends them: `message_start` and a
 * `ping`, then per content block `content_block_start`, its deltas (`text_delta`, `input_json_delta`)
 * and `content_block_stop`, then `message_delta` (stop reason and usage) and `message_stop`.
 * A text run and each tool call are one block each, in the order they arrive. Feed every chunk to
 * `push`, then call `end` (or `error`); each returns the frames to write.
 */
export class MessagesStreamWriter {
  private started = false;
  /** Index of the last block started; -1 before any. */
  private index = -1;
  private open: 'text' | 'tool_use' | undefined;
  /** OpenAI tool_calls index -> Anthropic block index (calls without an index get negative keys). */
  private readonly toolBlocks = new Map<number, number>();
  /** The key and id of the tool call seen last, for pieces that come without an index. */
  private lastToolKey: number | undefined;
  private lastToolId: string | undefined;
  private finish: Record<string, unknown> | undefined;
  private usage: Usage | undefined;

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
      if (this.open !== 'text') out += this.startBlock({ type: 'text', text: '' }, 'text');
      out += eventFrame('content_block_delta', { type: 'content_block_delta', index: this.index, delta: { type: 'text_delta', text: delta.content } });
    }
    for (const tc of delta.tool_calls ?? []) {
      const n = this.toolKey(tc.index, tc.id);
      this.lastToolKey = n;
      if (tc.id !== undefined) this.lastToolId = tc.id;
      let block = this.toolBlocks.get(n);
      if (block === undefined) {
        out += this.startBlock({ type: 'tool_use', id: tc.id ?? `toolu_${this.index + 1}`, name: tc.function?.name ?? '', input: {} }, 'tool_use');
        block = this.index;
        this.toolBlocks.set(n, block);
      }
      const args = tc.function?.arguments;
      if (args) {
        if (block !== this.index || this.open !== 'tool_use') {
          // Anthropic blocks cannot interleave: a provider that mixes the argument pieces of several calls cannot be translated.
          throw new ProviderError({ provider: this.options.provider ?? 'upstream', status: 502, errorClass: 'bad_response', message: 'the upstream interleaved the arguments of several tool calls' });
        }
        out += eventFrame('content_block_delta', { type: 'content_block_delta', index: block, delta: { type: 'input_json_delta', partial_json: args } });
      }
    }
    if (choice.finish_reason != null) this.finish = choice as unknown as Record<string, unknown>;
    return out;
  }

  /**
   * The closing events, once the upstream stream ended well. `usage` is what the upstream stream read
   * (its usage chunk, which the adapter may have kept from the chunks when it asked for it itself).
   */
  end(fallback?: ChatCompletionChunk, usage?: Usage): string {
    let out = this.started ? '' : this.start(fallback);
    out += this.closeBlock();
    if (usage !== undefined) this.usage = usage;
    const stop = stopOf(this.finish, this.stopSequences, this.toolBlocks.size > 0);
    out += eventFrame('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stop.reason, stop_sequence: stop.sequence, stop_details: null },
      usage: toAnthropicUsage(this.usage),
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
    while (this.toolBlocks.has(key)) key--;
    return key;
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
