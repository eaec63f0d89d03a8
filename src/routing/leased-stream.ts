import { ProviderError } from '../providers/errors.js';
import { SseParser, type SseComment, type SseEvent } from '../providers/sse.js';
import type { ChatCompletionChunk, ChatCompletionStream, Usage } from '../providers/types.js';

export type StreamOutcome = 'ok' | 'error' | 'cancel';

/** Called exactly once when a leased stream ends; gives the adapter back. */
export interface StreamLease {
  end(outcome: StreamOutcome, error: unknown): Promise<void>;
}

/** One SSE frame as the provider yields it from `sse()`. */
export type SseFrame = string | Uint8Array;

/**
 * A provider stream whose first data frame the router already pulled (to retry failures right after
 * the upstream's 200). Ends its lease exactly once, when the stream ends, throws, is cancelled, or the
 * consumer stops iterating (which also aborts the upstream).
 *
 * The peek reads the provider's `sse()` frames, so `sse()` here passes them on untouched (for
 * OpenAI-compatible upstreams: the upstream bytes); iterating chunks parses those frames instead.
 */
export class LeasedStream implements ChatCompletionStream {
  private readonly inner: ChatCompletionStream;
  private readonly frames: AsyncIterator<SseFrame>;
  private peeked: SseFrame[];
  private peekedDone: boolean;
  private readonly lease: StreamLease;
  private ended = false;
  private consumed = false;

  constructor(inner: ChatCompletionStream, frames: AsyncIterator<SseFrame>, peeked: SseFrame[], peekedDone: boolean, lease: StreamLease) {
    this.inner = inner;
    this.frames = frames;
    this.peeked = peeked;
    this.peekedDone = peekedDone;
    this.lease = lease;
  }

  /**
   * Pulls frames until the first one that carries data (keep-alive comments don't prove the upstream
   * works). Throws what the provider's stream throws; the caller cancels the stream then.
   */
  static async peek(inner: ChatCompletionStream): Promise<{ frames: AsyncIterator<SseFrame>; peeked: SseFrame[]; done: boolean }> {
    const frames = inner.sse()[Symbol.asyncIterator]() as AsyncIterator<SseFrame>;
    const peeked: SseFrame[] = [];
    for (;;) {
      const r = await frames.next();
      if (r.done) return { frames, peeked, done: true };
      peeked.push(r.value);
      if (hasData(r.value)) {
        assertFirstEventParses(peeked, inner);
        return { frames, peeked, done: false };
      }
    }
  }

  get usage(): Usage | undefined {
    return this.inner.usage;
  }

  /** True once the lease was given back. */
  get released(): boolean {
    return this.ended;
  }

  [Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk> {
    return this.chunks();
  }

  sse(): AsyncIterable<SseFrame> {
    return this.raw();
  }

  cancel(): void {
    if (this.ended) return;
    this.inner.cancel();
    void this.end('cancel', undefined);
  }

  private async *chunks(): AsyncGenerator<ChatCompletionChunk, void, undefined> {
    const parser = new SseParser();
    const events: Array<SseEvent | SseComment> = [];
    const decoder = new TextDecoder();
    for await (const frame of this.raw()) {
      parser.push(typeof frame === 'string' ? frame : decoder.decode(frame, { stream: true }), events);
      for (const ev of events) {
        if (!('data' in ev) || ev.data === '[DONE]') continue;
        yield JSON.parse(ev.data) as ChatCompletionChunk;
      }
      events.length = 0;
    }
  }

  private async *raw(): AsyncGenerator<SseFrame, void, undefined> {
    if (this.consumed) throw new Error('stream already consumed (iterate it or use sse(), once)');
    this.consumed = true;
    try {
      const peeked = this.peeked;
      this.peeked = [];
      for (const f of peeked) yield f;
      if (!this.peekedDone) {
        while (!this.ended) {
          const r = await this.frames.next();
          if (r.done) break;
          yield r.value;
        }
      }
      if (!this.ended) await this.end('ok', undefined);
    } catch (err) {
      if (!this.ended) {
        this.inner.cancel();
        await this.end('error', err);
      }
      throw err;
    } finally {
      // The consumer stopped early (break / return()): abort the upstream and give the adapter back.
      if (!this.ended) {
        this.inner.cancel();
        await this.end('cancel', undefined);
      }
    }
  }

  private end(outcome: StreamOutcome, error: unknown): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.ended = true;
    return this.lease.end(outcome, error);
  }
}

/**
 * Frames pass through unparsed after this, so the first data event is the one place a garbled
 * upstream can still be caught and retried elsewhere.
 */
function assertFirstEventParses(peeked: SseFrame[], inner: ChatCompletionStream): void {
  const parser = new SseParser();
  const events: Array<SseEvent | SseComment> = [];
  for (const f of peeked) parser.push(typeof f === 'string' ? f : Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString(), events);
  const first = events.find((e): e is SseEvent => 'data' in e);
  if (first === undefined || first.data === '[DONE]') return;
  try {
    JSON.parse(first.data);
  } catch (cause) {
    throw new ProviderError({
      provider: providerOf(inner),
      status: 502,
      errorClass: 'bad_response',
      message: 'upstream sent a malformed first stream event',
      cause,
    });
  }
}

function providerOf(inner: ChatCompletionStream): string {
  const p = (inner as { provider?: unknown }).provider;
  return typeof p === 'string' ? p : 'upstream';
}

function hasData(frame: SseFrame): boolean {
  if (typeof frame === 'string') return frame.includes('data:');
  // "data:" in bytes; frames are small, a linear scan is cheap.
  return Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).includes('data:');
}
