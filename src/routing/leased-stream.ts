import type { ChatCompletionChunk, ChatCompletionStream, Usage } from '../providers/types.js';

/** What a lease's end is told when the consumer stopped early: neither a success nor the deployment's failure. */
export const STREAM_CANCELLED: unique symbol = Symbol('stream cancelled');

/**
 * A provider stream that holds its adapter until it ends. `onEnd` runs exactly once: with no
 * argument when the stream ran to its end, with the error it threw, or with STREAM_CANCELLED when
 * it was cancelled or the consumer stopped iterating (which also aborts the upstream). Chunks and
 * `sse()` frames are the provider's own, relayed as they come.
 */
export class LeasedStream implements ChatCompletionStream {
  private readonly inner: ChatCompletionStream;
  private readonly onEnd: (error?: unknown) => void;
  private ended = false;
  private consumed = false;

  constructor(inner: ChatCompletionStream, onEnd: (error?: unknown) => void) {
    this.inner = inner;
    this.onEnd = onEnd;
  }

  get usage(): Usage | undefined {
    return this.inner.usage;
  }

  /** True once the adapter was given back. */
  get released(): boolean {
    return this.ended;
  }

  [Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk> {
    return this.relay(this.inner);
  }

  sse(): AsyncIterable<string | Uint8Array> {
    return this.relay(this.inner.sse());
  }

  cancel(): void {
    if (this.ended) return;
    this.inner.cancel();
    this.end(STREAM_CANCELLED);
  }

  private async *relay<T>(source: AsyncIterable<T>): AsyncGenerator<T, void, undefined> {
    if (this.consumed) throw new Error('stream already consumed (iterate it or use sse(), once)');
    this.consumed = true;
    try {
      for await (const item of source) {
        if (this.ended) break;
        yield item;
      }
      this.end(undefined);
    } catch (err) {
      if (!this.ended) {
        this.inner.cancel();
        this.end(err);
      }
      throw err;
    } finally {
      // The consumer stopped early (break / return()): abort the upstream and give the adapter back.
      if (!this.ended) {
        this.inner.cancel();
        this.end(STREAM_CANCELLED);
      }
    }
  }

  private end(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(error);
  }
}
