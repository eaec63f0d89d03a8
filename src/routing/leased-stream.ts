import type { ChatCompletionChunk, ChatCompletionStream, Usage } from '../providers/types.js';

export type StreamOutcome = 'ok' | 'error' | 'cancel';

/** Called exactly once when a leased stream ends; gives the adapter back. */
export interface StreamLease {
  end(outcome: StreamOutcome, error: unknown): Promise<void>;
}

/**
 * A provider stream whose first chunk the router already pulled (to retry failures right after the
 * upstream's 200). Yields that chunk, then the rest; ends its lease exactly once, when the stream
 * ends, throws, is cancelled, or the consumer stops iterating (which also aborts the upstream).
 *
 * Because the first chunk was read as a parsed chunk, `sse()` re-serialises chunks into SSE frames
 * (unknown fields survive: chunks are the upstream JSON objects).
 */
export class LeasedStream implements ChatCompletionStream {
  private readonly inner: ChatCompletionStream;
  private readonly iterator: AsyncIterator<ChatCompletionChunk>;
  private first: IteratorResult<ChatCompletionChunk> | undefined;
  private readonly lease: StreamLease;
  private ended = false;
  private consumed = false;

  constructor(inner: ChatCompletionStream, iterator: AsyncIterator<ChatCompletionChunk>, first: IteratorResult<ChatCompletionChunk>, lease: StreamLease) {
    this.inner = inner;
    this.iterator = iterator;
    this.first = first;
    this.lease = lease;
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

  async *sse(): AsyncIterable<string> {
    for await (const chunk of this.chunks()) yield `data: ${JSON.stringify(chunk)}\n\n`;
    yield 'data: [DONE]\n\n';
  }

  cancel(): void {
    if (this.ended) return;
    this.inner.cancel();
    void this.end('cancel', undefined);
  }

  private async *chunks(): AsyncGenerator<ChatCompletionChunk, void, undefined> {
    if (this.consumed) throw new Error('stream already consumed (iterate it or use sse(), once)');
    this.consumed = true;
    try {
      const first = this.first!;
      this.first = undefined;
      if (!first.done && !this.ended) {
        yield first.value;
        while (!this.ended) {
          const r = await this.iterator.next();
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
