import { ProviderError } from '../errors.js';
import { normalizeProviderError } from '../normalize-error.js';
import { decodeSseEvent, encodeSseEvents, hasForeignLines, type RawSseEvent } from '../sse-bytes.js';
import { SSE_DONE, isComment, type SseComment, type SseEvent } from '../sse.js';
import { UpstreamSseStream, streamErrorFrom, type RawBatch, type UpstreamStreamContext } from '../upstream-stream.js';
import type { ChatCompletionChunk, ChatCompletionStream, Usage } from '../types.js';
import { anthropicStatus, toFinishReason } from './mapping.js';
import { toUsage } from './translate.js';
import type { AnthropicUsage } from './types.js';

type Delta = ChatCompletionChunk['choices'][number]['delta'];

/**
 * Anthropic stream events -> OpenAI chunks (Portkey's mapping): message_start -> role chunk;
 * tool_use block start -> a new `tool_calls` entry; text/thinking/input_json deltas -> content /
 * reasoning_content / arguments pieces; message_delta -> finish_reason (+ usage chunk when asked);
 * message_stop -> `[DONE]`; ping and block stops dropped; an `error` event fails the stream.
 */
export class AnthropicStream extends UpstreamSseStream {
  private id = '';
  private model: string;
  private readonly created = Math.floor(Date.now() / 1000);
  private usageIn: AnthropicUsage = {};
  /** Anthropic content-block index -> OpenAI tool_calls index. */
  private readonly toolIndex = new Map<number, number>();

  constructor(
    ctx: UpstreamStreamContext,
    model: string,
    private readonly includeUsage: boolean,
  ) {
    super(ctx);
    this.model = model;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk> {
    for await (const batch of this.batches()) {
      for (const chunk of this.translate(batch)) yield chunk;
    }
  }

  async *sse(): AsyncIterable<string> {
    for await (const batch of this.batches()) {
      let out = '';
      try {
        for (const chunk of this.translate(batch)) out += `data: ${JSON.stringify(chunk)}\n\n`;
      } catch (err) {
        if (out) yield out;
        throw err;
      }
      if (this.done) out += SSE_DONE;
      if (out) yield out;
    }
  }

  /**
   * The upstream's own Anthropic events, as the bytes came (for a client that speaks the Messages API:
   * nothing to translate). Each event is still read for the terminator, usage and errors: an `error`
   * event ends the stream with a ProviderError (after the events before it), never passed on as is.
   * Use this, the chunks, or `sse()`: one of them, once.
   */
  async *native(): AsyncIterable<Buffer> {
    const decoded: Array<SseEvent | SseComment> = [];
    for await (const batch of this.batches()) {
      for (const raw of batch) {
        if (this.done) break;
        decoded.length = 0;
        decodeSseEvent(raw, decoded);
        for (const ev of decoded) drain(this.translateEvent(ev));
        if (!hasForeignLines(raw)) yield raw.start === 0 && raw.end === raw.buf.length ? raw.buf : raw.buf.subarray(raw.start, raw.end);
        else {
          // Lines that are no SSE field (a plain-text error, an HTML page) are not passed on: only its events, written again.
          const events = encodeSseEvents(decoded);
          if (events !== '') yield Buffer.from(events);
        }
      }
    }
  }

  /**
   * This stream as one whose `sse()` is `native()`: what the router leases and the server writes when
   * an Anthropic client's request was passed through. Its chunks stay the OpenAI translation.
   */
  asNative(): ChatCompletionStream {
    return new NativeView(this);
  }

  /** The first event that is not a ping must parse, and must not be an error. */
  protected checkFirst(raw: RawSseEvent): boolean {
    const decoded: Array<SseEvent | SseComment> = [];
    decodeSseEvent(raw, decoded);
    for (const ev of decoded) {
      if (isComment(ev)) continue;
      const data = this.parse(ev.data);
      const type: string = data.type ?? ev.event;
      if (type === 'error') throw this.fail(this.errorEvent(data, ev.data));
      if (type !== 'ping') return true;
    }
    return false;
  }

  private *translate(batch: RawBatch): Generator<ChatCompletionChunk> {
    const decoded: Array<SseEvent | SseComment> = [];
    for (const raw of batch) {
      decoded.length = 0;
      decodeSseEvent(raw, decoded);
      for (const ev of decoded) yield* this.translateEvent(ev);
    }
  }

  private *translateEvent(ev: SseEvent | SseComment): Generator<ChatCompletionChunk> {
    if (this.done || isComment(ev)) return;
    const data = this.parse(ev.data);
    const type: string = data.type ?? ev.event;
    switch (type) {
      case 'message_start': {
        const msg = data.message ?? {};
        this.id = msg.id ?? this.id;
        this.model = msg.model ?? this.model;
        this.usageIn = msg.usage ?? {};
        yield this.chunk({ role: 'assistant', content: '' });
        break;
      }
      case 'content_block_start': {
        const block = data.content_block ?? {};
        if (block.type === 'tool_use') {
          const index = this.toolIndex.size;
          this.toolIndex.set(data.index, index);
          yield this.chunk({ tool_calls: [{ index, id: block.id, type: 'function', function: { name: block.name, arguments: '' } }] });
        } else if (block.type === 'text' && block.text) {
          yield this.chunk({ content: block.text });
        }
        break;
      }
      case 'content_block_delta': {
        const d = data.delta ?? {};
        if (d.type === 'text_delta') yield this.chunk({ content: d.text });
        else if (d.type === 'thinking_delta') yield this.chunk({ reasoning_content: d.thinking });
        else if (d.type === 'input_json_delta') {
          const index = this.toolIndex.get(data.index) ?? 0;
          // Argument pieces carry no name (OpenAI sends it once, in the first fragment).
          yield this.chunk({ tool_calls: [{ index, function: { arguments: d.partial_json ?? '' } }] } as unknown as Delta);
        }
        break;
      }
      case 'message_delta': {
        // message_delta usage is cumulative; newer API versions repeat the input counts there too.
        this.usageIn = { ...this.usageIn, ...stripNulls(data.usage ?? {}) };
        this.lastUsage = toUsage(this.usageIn);
        yield this.chunk({}, toFinishReason(data.delta?.stop_reason));
        if (this.includeUsage) yield { ...this.chunk({}), choices: [], usage: this.lastUsage };
        break;
      }
      case 'message_stop':
        this.done = true;
        break;
      case 'error':
        throw this.fail(this.errorEvent(data, ev.data));
      default:
        break; // ping, content_block_stop, future events
    }
  }

  private parse(text: string): Record<string, any> {
    try {
      const data: unknown = JSON.parse(text);
      if (typeof data === 'object' && data !== null && !Array.isArray(data)) return data as Record<string, any>;
    } catch {
      // below
    }
    // No cause: a JSON.parse message quotes the payload, which is the upstream's text.
    throw this.fail(
      new ProviderError({ provider: this.ctx.provider, status: 502, errorClass: 'bad_response', code: 'malformed_stream_event', message: `${this.ctx.provider}: malformed JSON in the upstream stream` }),
    );
  }

  private errorEvent(data: Record<string, any>, text: string): ProviderError {
    return streamErrorFrom(normalizeProviderError(this.ctx.provider, anthropicStatus(data.error?.type), text, undefined, { scrubber: this.ctx.scrubber }));
  }

  private chunk(delta: Delta, finishReason: string | null = null): ChatCompletionChunk {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    };
  }
}

/** An AnthropicStream whose SSE frames are the upstream's own events. */
class NativeView implements ChatCompletionStream {
  constructor(private readonly inner: AnthropicStream) {}

  get usage(): Usage | undefined {
    return this.inner.usage;
  }

  sse(): AsyncIterable<Buffer> {
    return this.inner.native();
  }

  cancel(): void {
    this.inner.cancel();
  }

  [Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk> {
    return this.inner[Symbol.asyncIterator]();
  }
}

/** Run a generator for its effects. */
function drain(g: Generator<unknown>): void {
  for (let r = g.next(); !r.done; r = g.next());
}

function stripNulls(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

export { anthropicStatus } from './mapping.js';
