import type { Dispatcher } from 'undici';
import { ProviderError } from './errors.js';
import { SseParser, type SseComment, type SseEvent } from './sse.js';
import { transportError } from './transport.js';
import type { ChatCompletionChunk, ChatCompletionStream, ProviderTimeouts, Usage } from './types.js';

export type UpstreamBody = Dispatcher.ResponseData['body'];

export interface UpstreamStreamContext {
  provider: string;
  body: UpstreamBody;
  signal: AbortSignal | undefined;
  timeouts: Readonly<ProviderTimeouts>;
  /** Scrubbed from error messages found in the stream. */
  secrets: readonly (string | undefined)[];
  /** Called exactly once: without an error when the stream completed, with one otherwise. */
  onSettle: (err?: ProviderError) => void;
}

/**
 * The shared half of every streamed response: reads the upstream body as SSE events, maps transport
 * failures to `ProviderError`s, insists on a terminator (a cut stream is an error, not a silent end),
 * and always releases the socket — drained to its end on success so keep-alive reuses it, destroyed otherwise.
 * Subclasses turn events into chunks (`[Symbol.asyncIterator]`) or SSE frames (`sse()`).
 */
export abstract class UpstreamSseStream implements ChatCompletionStream {
  /** Set by the subclass when it saw the terminator (`[DONE]`, `message_stop`). */
  protected done = false;
  protected lastUsage: Usage | undefined;
  private settled = false;
  private consumed = false;
  private cancelled = false;

  constructor(protected readonly ctx: UpstreamStreamContext) {}

  abstract [Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk>;
  abstract sse(): AsyncIterable<string | Uint8Array>;

  get usage(): Usage | undefined {
    return this.lastUsage;
  }

  cancel(): void {
    if (this.settled) return;
    this.cancelled = true;
    destroyBody(this.ctx.body);
    this.settle(this.abortedError());
  }

  /** Fail the stream with `err` (an error frame, a bad payload): release the socket, settle, return it to throw. */
  protected fail(err: ProviderError): ProviderError {
    destroyBody(this.ctx.body);
    this.settle(err);
    return err;
  }

  /** Batches of events, one per upstream network read. Single use. */
  protected async *batches(): AsyncGenerator<Array<SseEvent | SseComment>, void, undefined> {
    if (this.consumed) throw new Error('ChatCompletionStream can be consumed once (iterate it or call sse(), not both)');
    this.consumed = true;
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const buf of this.ctx.body as AsyncIterable<Buffer>) {
        // After the terminator keep reading to the end of the body: a drained body leaves the socket reusable.
        if (this.done) continue;
        const out: Array<SseEvent | SseComment> = [];
        parser.push(decoder.decode(buf, { stream: true }), out);
        if (out.length > 0) yield out;
      }
      if (!this.done) {
        const out: Array<SseEvent | SseComment> = [];
        parser.push(decoder.decode(), out);
        parser.end(out);
        if (out.length > 0) yield out;
      }
      if (this.settled) return;
      if (!this.done) {
        throw new ProviderError({
          provider: this.ctx.provider,
          status: 502,
          errorClass: 'stream_error',
          code: 'stream_incomplete',
          message: `${this.ctx.provider}: the upstream stream ended before its terminator`,
        });
      }
      this.settle();
    } catch (err) {
      if (this.settled && !(err instanceof ProviderError)) throw this.cancelled ? this.abortedError() : err;
      const pe = this.cancelled ? this.abortedError() : transportError(this.ctx.provider, err, this.ctx.signal, this.ctx.timeouts);
      // An error after the terminator (e.g. the socket closed while draining) does not spoil a complete stream.
      if (this.done && !this.settled) {
        this.settle();
        return;
      }
      if (!this.settled) {
        destroyBody(this.ctx.body);
        this.settle(pe);
      }
      throw pe;
    } finally {
      // The consumer stopped early (break/return): let go of the upstream request.
      if (!this.settled) {
        destroyBody(this.ctx.body);
        this.settle(this.done ? undefined : this.abortedError());
      }
    }
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

/**
 * Let go of a response body we will not read: undici then aborts the request and drops the socket.
 * A destroyed body emits 'error' (RequestAbortedError); with nobody listening that would crash the process.
 */
export function destroyBody(body: UpstreamBody): void {
  if (body.destroyed) return;
  body.on('error', noop);
  body.destroy();
}

function noop(): void {}

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
