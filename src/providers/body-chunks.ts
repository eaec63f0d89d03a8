import type { Readable } from 'node:stream';

/**
 * The chunks of a response body, as `for await (const b of body)` gives them (each `next()` takes
 * what is buffered, `read()`), without Node's Readable async iterator around it: that one is an
 * async generator with end-of-stream bookkeeping, which costs promises and microtask hops on every
 * chunk of every stream. The body stays in paused mode, so nothing is read from the upstream faster
 * than the consumer asks (backpressure).
 *
 * Same outcomes as Node's iterator: `done` at `end`, the body's error, a premature-close error when
 * the body closes without ending (e.g. destroyed), and `return()` destroys the body.
 */
export class BodyChunks implements AsyncIterableIterator<Buffer> {
  private waiting: { resolve: (r: IteratorResult<Buffer>) => void; reject: (err: unknown) => void } | undefined;
  private ended = false;
  private failure: { err: unknown } | undefined;

  constructor(private readonly body: Readable) {
    body.on('readable', this.onReadable);
    body.once('end', this.onEnd);
    body.once('error', this.onError);
    body.once('close', this.onClose);
  }

  next(): Promise<IteratorResult<Buffer>> {
    if (this.failure !== undefined) return Promise.reject(this.failure.err);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    const chunk = this.body.read() as Buffer | null;
    if (chunk !== null) return Promise.resolve({ value: chunk, done: false });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<Buffer>> {
    this.ended = true;
    this.stop();
    if (!this.body.destroyed) this.body.destroy();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Buffer> {
    return this;
  }

  private readonly onReadable = (): void => {
    const w = this.waiting;
    if (w === undefined) return;
    const chunk = this.body.read() as Buffer | null;
    if (chunk === null) return; // the end is near: 'end' follows
    this.waiting = undefined;
    w.resolve({ value: chunk, done: false });
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.stop();
    this.waiting?.resolve({ value: undefined, done: true });
    this.waiting = undefined;
  };

  private readonly onError = (err: unknown): void => this.fail(err);

  private readonly onClose = (): void => {
    if (this.ended || this.failure !== undefined) return;
    this.fail(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
  };

  private fail(err: unknown): void {
    if (this.ended || this.failure !== undefined) return;
    this.failure = { err };
    this.stop();
    this.waiting?.reject(err);
    this.waiting = undefined;
  }

  /** Stop listening (end, failure, return); `error` stays handled so a late one cannot crash the process. */
  private stop(): void {
    this.body.off('readable', this.onReadable);
    this.body.off('end', this.onEnd);
    this.body.off('close', this.onClose);
  }
}
