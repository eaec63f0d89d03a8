import type { Dispatcher } from 'undici';
import { BodyChunks } from './body-chunks.js';
import { ProviderError, tooLargeError } from './errors.js';
import type { SecretScrubber } from './scrub.js';
import { SseByteScanner, type RawSseEvent } from './sse-bytes.js';
import { SseEventTooLargeError } from './sse.js';
import { destroyBody, transportError } from './transport.js';
import type { ChatCompletionChunk, ChatCompletionStream, ProviderTimeouts, Usage } from './types.js';

export type UpstreamBody = Dispatcher.ResponseData['body'];

export interface UpstreamStreamContext {
  provider: string;
  body: UpstreamBody;
  signal: AbortSignal | undefined;
  timeouts: Readonly<ProviderTimeouts>;
  /** Scrubs the provider's secrets from errors found in the stream. */
  scrubber: SecretScrubber;
  /** Bytes one SSE event may take (`providers.*.maxEventSize`). */
  maxEventSize: number;
  /** Give up the body before its end (destroys it; the transport reconnects lazily). Default: destroy it. */
  abandon?: (body: UpstreamBody) => void;
  /** Called exactly once: without an error when the stream completed, with one otherwise. */
  onSettle: (err?: ProviderError) => void;
}

/** The events of one upstream network read. */
export type RawBatch = RawSseEvent[];

/**
 * The shared half of every streamed response: splits the upstream body into raw SSE events (bytes, not
 * decoded), maps transport failures to `ProviderError`s, insists on a terminator (a cut stream is an
 * error, not a silent end), and always releases the socket — drained to its end on success so keep-alive
 * reuses it, destroyed otherwise.
 *
 * `open()` reads up to the first data event and lets the subclass validate it (`checkFirst`), so the
 * adapter resolves only with a stream that has started well; what it read is replayed to the consumer.
 * Subclasses turn events into chunks (`[Symbol.asyncIterator]`) or SSE frames (`sse()`).
 */
export abstract class UpstreamSseStream implements ChatCompletionStream {
  /** Set by the subclass when it saw the terminator (`[DONE]`, `message_stop`). */
  protected done = false;
  protected lastUsage: Usage | undefined;
  private settled = false;
  private consumed = false;
  private cancelled = false;
  private source: AsyncIterator<RawBatch, void> | undefined;
  /** Batches `open()` read, replayed first. */
  private head: RawBatch[] = [];

  constructor(protected readonly ctx: UpstreamStreamContext) {}

  abstract [Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk>;
  abstract sse(): AsyncIterable<string | Uint8Array>;

  /**
   * Is this the first event that proves the stream works (throws, through `fail`, when it shows the
   * opposite: an error frame, a malformed payload)? Comments and keep-alives answer false.
   */
  protected abstract checkFirst(ev: RawSseEvent): boolean;

  /** A body that ends before the terminator is an error, unless the subclass knows the answer is whole. */
  protected endedWell(): boolean {
    return false;
  }

  get usage(): Usage | undefined {
    return this.lastUsage;
  }

  /** Read until the first data event and validate it; rejects with the ProviderError (stream settled, socket released). */
  async open(): Promise<void> {
    const source = (this.source = this.read());
    for (;;) {
      let r: IteratorResult<RawBatch, void>;
      try {
        r = await source.next();
      } catch (err) {
        throw err instanceof ProviderError ? err : this.fail(this.unexpected(err));
      }
      if (r.done) return; // settled by read(): a complete stream with no data (ended by its terminator)
      this.head.push(r.value);
      try {
        for (const ev of r.value) if (this.checkFirst(ev)) return;
      } catch (err) {
        void source.return!(undefined);
        throw err;
      }
    }
  }

  cancel(): void {
    if (this.settled) return;
    this.cancelled = true;
    this.release();
    this.settle(this.abortedError());
  }

  /** Fail the stream with `err` (an error frame, a bad payload): release the socket, settle, return it to throw. */
  protected fail(err: ProviderError): ProviderError {
    const scrubbed = this.ctx.scrubber.error(err);
    this.release();
    this.settle(scrubbed);
    return scrubbed;
  }

  /**
   * Batches of raw events, one per upstream network read: those `open()` read, then the rest. Single use.
   * A plain iterator over `read()` rather than an async generator: each batch then costs one async hop
   * less. Stopping early (`return()`: break, or a throw in the consumer's loop) lets go of the upstream
   * request.
   */
  protected batches(): AsyncIterable<RawBatch> {
    if (this.consumed) throw new Error('ChatCompletionStream can be consumed once (iterate it or call sse(), not both)');
    this.consumed = true;
    const source = this.source ?? this.read();
    const head = this.head;
    this.head = [];
    const iterator: AsyncIterableIterator<RawBatch> = {
      next: () => (head.length > 0 ? Promise.resolve({ value: head.shift()!, done: false }) : source.next()),
      return: () => {
        if (!this.settled) {
          this.release();
          this.settle(this.done ? undefined : this.abortedError());
        }
        void source.return!(undefined);
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /**
   * The reading loop: batches of raw events, one per upstream read that completed an event. A plain
   * iterator whose `next()` is one async call, not an async generator (which would cost a queue entry,
   * a resolve and an extra microtask hop per batch). After the terminator it reads the body to its end;
   * a body that ends without one is an error (unless `endedWell()`); errors are mapped to
   * `ProviderError`s and the stream is settled once; `return()` (a consumer stopping early) waits for a
   * read in flight, then lets go of the body.
   */
  private read(): AsyncIterator<RawBatch, void> {
    let chunks: BodyChunks | undefined; // made on the first next(), not when read() is called
    const scanner = new SseByteScanner(this.ctx.maxEventSize);
    const DONE: IteratorReturnResult<void> = { value: undefined, done: true };
    // reading → (body ended, last events returned) ending → finished
    let phase: 'reading' | 'ending' | 'finished' = 'reading';
    let inFlight: Promise<unknown> | undefined;

    const step = async (): Promise<IteratorResult<RawBatch, void>> => {
      try {
        if (phase === 'reading') {
          chunks ??= new BodyChunks(this.ctx.body);
          for (;;) {
            const r = await chunks.next();
            if (r.done) break;
            // After the terminator keep reading to the end of the body: a drained body leaves the socket reusable.
            if (this.done) continue;
            const out: RawBatch = [];
            try {
              scanner.push(r.value, out);
            } catch (err) {
              void chunks.return(); // as leaving a for-await on a throw: let go of the body
              throw err;
            }
            if (out.length > 0) return { value: out, done: false };
          }
          phase = 'ending';
          if (!this.done) {
            const out: RawBatch = [];
            scanner.end(out);
            if (out.length > 0) return { value: out, done: false };
          }
        }
        phase = 'finished';
        if (this.settled) return DONE;
        if (!this.done && !this.endedWell()) {
          throw new ProviderError({
            provider: this.ctx.provider,
            status: 502,
            errorClass: 'stream_error',
            code: 'stream_incomplete',
            message: `${this.ctx.provider}: the upstream stream ended before its terminator`,
          });
        }
        this.settle();
        return DONE;
      } catch (err) {
        phase = 'finished';
        if (this.settled && !(err instanceof ProviderError)) throw this.cancelled ? this.abortedError() : err;
        const pe = this.cancelled ? this.abortedError() : this.unexpected(err);
        // An error after the terminator (e.g. the socket closed while draining) does not spoil a complete stream.
        if (this.done && !this.settled) {
          this.settle();
          return DONE;
        }
        if (!this.settled) {
          this.release();
          this.settle(this.ctx.scrubber.error(pe));
        }
        throw this.ctx.scrubber.error(pe);
      } finally {
        inFlight = undefined;
        if (phase === 'finished' && !this.settled) {
          this.release();
          this.settle(this.done ? undefined : this.abortedError());
        }
      }
    };
    const stop = (): IteratorReturnResult<void> => {
      if (phase !== 'finished') {
        // Stopped inside the body's loop: leave it as a for-await would (the body is destroyed).
        if (phase === 'reading') void chunks?.return();
        phase = 'finished';
        if (!this.settled) {
          this.release();
          this.settle(this.done ? undefined : this.abortedError());
        }
      }
      return DONE;
    };
    return {
      next: () => {
        if (phase === 'finished') return Promise.resolve(DONE);
        const p = step();
        inFlight = p;
        return p;
      },
      return: () => {
        const pending = inFlight;
        if (pending === undefined) return Promise.resolve(stop());
        // During a read, return() takes effect once the read has settled (as an async generator's does).
        return pending.then(stop, stop);
      },
    };
  }

  /** Let go of the upstream request before its end. */
  private release(): void {
    if (this.ctx.abandon) this.ctx.abandon(this.ctx.body);
    else destroyBody(this.ctx.body);
  }

  private unexpected(err: unknown): ProviderError {
    if (err instanceof SseEventTooLargeError) {
      return tooLargeError(this.ctx.provider, `${this.ctx.provider}: an upstream stream event exceeds maxEventSize (${err.limit} bytes)`);
    }
    return transportError(this.ctx.provider, err, this.ctx.signal, this.ctx.timeouts);
  }

  private settle(err?: ProviderError): void {
    if (this.settled) return;
    this.settled = true;
    this.ctx.onSettle(err);
  }

  private abortedError(): ProviderError {
    return new ProviderError({ provider: this.ctx.provider, status: 499, errorClass: 'aborted', message: 'stream cancelled by the caller' });
  }
}

export { destroyBody };

/** Error inside a 200 stream: keep what the provider said, classify it as `stream_error`. */
export function streamErrorFrom(err: ProviderError): ProviderError {
  const e = err.body.error;
  return new ProviderError({
    provider: err.provider,
    status: err.status >= 400 ? err.status : 502,
    errorClass: 'stream_error',
    message: e.message,
    type: e.type,
    code: e.code,
    param: e.param,
    retryAfterMs: err.retryAfterMs,
  });
}
