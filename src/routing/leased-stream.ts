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

  /**
   * The inner stream's items, with the lease ended once: when the source ends, throws, or the
   * consumer stops early (`return()`: break, or a throw in its loop; the upstream is then aborted).
   * A hand-written iterator, not an async generator: a generator relaying a `for await` costs two
   * more promises and microtask hops per item (its own `await` and `yield`), on every streamed frame.
   */
  private relay<T>(source: AsyncIterable<T>): AsyncIterableIterator<T> {
    let it: AsyncIterator<T> | undefined;
    let finished = false;
    const done = (): IteratorResult<T> => {
      finished = true;
      return { value: undefined, done: true };
    };
    const iterator: AsyncIterableIterator<T> = {
      next: () => {
        if (finished) return Promise.resolve({ value: undefined, done: true });
        if (it === undefined) {
          if (this.consumed) return Promise.reject(new Error('stream already consumed (iterate it or use sse(), once)'));
          this.consumed = true;
          it = source[Symbol.asyncIterator]();
        }
        const from = it;
        // Cancelled between two items: stop, and let the source clean up.
        if (this.ended) return closeSource(from).then(done);
        return from.next().then(
          (r) => {
            if (r.done === true) {
              this.end(undefined);
              return done();
            }
            if (this.ended) return closeSource(from).then(done);
            return r;
          },
          (err: unknown) => {
            finished = true;
            if (!this.ended) {
              this.inner.cancel();
              this.end(err);
            }
            throw err;
          },
        );
      },
      return: () => {
        if (finished || it === undefined) return Promise.resolve(done());
        // The source lets go of its upstream first (as a `for await` does on leaving), then the lease ends.
        return closeSource(it).then(() => {
          if (!this.ended) {
            this.inner.cancel();
            this.end(STREAM_CANCELLED);
          }
          return done();
        });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  private end(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(error);
  }
}

/** Ask an iterator to clean up (its `return()`), ignoring how that goes: the consumer already stopped. */
function closeSource<T>(it: AsyncIterator<T>): Promise<void> {
  if (it.return === undefined) return Promise.resolve();
  return it.return(undefined).then(noop, noop);
}

function noop(): void {}
