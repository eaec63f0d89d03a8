import { ProviderError } from '../errors.js';
import { normalizeProviderError } from '../normalize-error.js';
import { decodeSseEvent, FINISH_KEY, isDonePayload, scanJsonKeys, type RawSseEvent } from '../sse-bytes.js';
import { isComment, SSE_DONE, sseFrame, type SseComment, type SseEvent } from '../sse.js';
import { UpstreamSseStream, type RawBatch, type UpstreamStreamContext } from '../upstream-stream.js';
import { streamErrorFrom } from '../upstream-stream.js';
import type { ChatCompletionChunk, Usage } from '../types.js';

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** What to do with one event. */
const enum Verdict {
  Pass,
  /** A usage-only chunk the client did not ask for: not sent, its usage kept. */
  Drop,
  /** `[DONE]`: pass it, then nothing more. */
  Done,
  /** Not a plain data event: its data events go out re-encoded (`rewritten`), nothing else of it. */
  Rewrite,
}

export interface OpenAISseStreamOptions {
  /** The client did not ask for usage (`stream_options.include_usage`): keep the usage-only chunk from it (its usage is still read). */
  dropUsageChunk?: boolean;
  /**
   * Choices the request asked for (`n`; default 1). With more than one, a body that ends without
   * `[DONE]` is a cut stream even after a `finish_reason`: the scan does not tell whose it was.
   */
  choices?: number;
}

/**
 * A stream from a provider that already speaks OpenAI SSE. `sse()` yields the upstream's bytes as they
 * came (views of the network reads, no decoding, no re-encoding). A cheap byte scan of each event picks
 * the few that need parsing: `[DONE]`, an `"error":` or `"usage":{` key, or a payload that is not
 * `{...}` (so possibly not JSON). Only those are parsed; an error frame or a payload that does not parse
 * ends the stream with a ProviderError (after the events before it), which the server writes as an
 * error event.
 */
export class OpenAISseStream extends UpstreamSseStream {
  private readonly dropUsageChunk: boolean;
  /** One choice was asked for: then a `finish_reason` makes the answer whole without `[DONE]`. */
  private readonly oneChoice: boolean;
  /** A chunk carried a `finish_reason`: the answer is whole even if the body ends without `[DONE]`. */
  private answered = false;
  /** The frames a `Verdict.Rewrite` event stands for. */
  private rewritten: Buffer | undefined;

  constructor(ctx: UpstreamStreamContext, options: OpenAISseStreamOptions = {}) {
    super(ctx);
    this.dropUsageChunk = options.dropUsageChunk === true;
    this.oneChoice = (options.choices ?? 1) <= 1;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk> {
    const decoded: Array<SseEvent | SseComment> = [];
    for await (const batch of this.batches()) {
      for (const raw of batch) {
        if (this.done) break;
        decoded.length = 0;
        decodeSseEvent(raw, decoded);
        for (const ev of decoded) {
          if (isComment(ev)) continue;
          if (ev.data === '[DONE]') {
            this.done = true;
            break;
          }
          const chunk = this.parse(ev.data);
          if (chunk !== undefined) yield chunk;
        }
      }
    }
  }

  /**
   * A hand-written iterator rather than an async generator over `batches()`: a generator's own `await`
   * and `yield` cost two more promises and microtask hops per upstream read, on every stream.
   */
  sse(): AsyncIterable<Uint8Array> {
    let source: AsyncIterator<RawBatch> | undefined;
    const ready: Buffer[] = [];
    let failure: { err: unknown } | undefined;
    let finished = false;
    const DONE: IteratorResult<Uint8Array> = { value: undefined, done: true };
    const next = (): Promise<IteratorResult<Uint8Array>> => {
      if (ready.length > 0) return Promise.resolve({ value: ready.shift()!, done: false });
      if (finished) return Promise.resolve(DONE);
      if (failure !== undefined) {
        // What came before the error was delivered; now the error, and the reading stops.
        finished = true;
        const { err } = failure;
        return (source === undefined ? Promise.resolve() : source.return!(undefined).then(noop, noop)).then(() => Promise.reject(err));
      }
      try {
        source ??= this.batches()[Symbol.asyncIterator]();
      } catch (err) {
        finished = true;
        return Promise.reject(err);
      }
      return source.next().then(
        (r) => {
          if (r.done === true) {
            finished = true;
            // Ended well without `[DONE]` (see endedWell): the client still gets one.
            if (!this.done) {
              this.done = true;
              return { value: DONE_FRAME, done: false };
            }
            return DONE;
          }
          failure = this.frames(r.value, ready);
          // The read's first frame as a value, not as next()'s promise: a promise returned from a
          // then() callback costs two more microtask hops and a promise, on every upstream read.
          if (ready.length > 0) return { value: ready.shift()!, done: false };
          return next();
        },
        (err: unknown) => {
          finished = true;
          throw err;
        },
      );
    };
    const iterator: AsyncIterableIterator<Uint8Array> = {
      next,
      return: () => {
        const wasOpen = !finished && source !== undefined;
        finished = true;
        ready.length = 0;
        // Stopping early lets go of the upstream request (the batches' return()).
        return wasOpen ? source!.return!(undefined).then(() => DONE) : Promise.resolve(DONE);
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /**
   * The frames of one upstream read to pass on, into `out`: events that are adjacent in the read go
   * out as one range of it, in the common case (whole events per read) the read itself, with no copy
   * and no allocation. An event that fails the stream ends the batch: what came before it is in
   * `out`, and the error is returned.
   */
  private frames(batch: RawBatch, out: Buffer[]): { err: unknown } | undefined {
    let run: Buffer | undefined;
    let runStart = 0;
    let runEnd = 0;
    for (const raw of batch) {
      if (this.done) break;
      let verdict: Verdict;
      try {
        verdict = this.inspect(raw);
      } catch (err) {
        if (run) out.push(slice(run, runStart, runEnd)); // what came before the error still reaches the client
        return { err };
      }
      if (verdict === Verdict.Drop) continue;
      if (verdict === Verdict.Rewrite) {
        if (run) out.push(slice(run, runStart, runEnd));
        run = undefined;
        out.push(this.rewritten!);
        this.rewritten = undefined;
        continue;
      }
      if (verdict === Verdict.Done) this.done = true;
      if (run === raw.buf && runEnd === raw.start) {
        runEnd = raw.end;
      } else {
        if (run) out.push(slice(run, runStart, runEnd));
        run = raw.buf;
        runStart = raw.start;
        runEnd = raw.end;
      }
    }
    if (run) out.push(slice(run, runStart, runEnd));
    return undefined;
  }

  /**
   * Some servers close a finished stream without `[DONE]` (Azure's DeepSeek after a content filter,
   * some self-hosted ones): a body that ends after a `finish_reason` is a whole answer, one that ends
   * before it is cut. With `n` > 1 one choice's `finish_reason` says nothing of the others': only
   * `[DONE]` ends such a stream well.
   */
  protected override endedWell(): boolean {
    return this.answered && this.oneChoice;
  }

  /** The first data event must be a chunk (or `[DONE]`); an error frame or garbage rejects the open. */
  protected checkFirst(raw: RawSseEvent): boolean {
    if (raw.kind === 'data') {
      if (!isDonePayload(raw)) this.parse(raw.buf.toString('utf8', raw.payloadStart, raw.payloadEnd));
      return true;
    }
    if (raw.kind !== 'other') return false;
    const decoded: Array<SseEvent | SseComment> = [];
    decodeSseEvent(raw, decoded);
    let data = false;
    for (const ev of decoded) {
      if (isComment(ev)) continue;
      data = true;
      if (ev.data !== '[DONE]') this.parse(ev.data);
    }
    return data;
  }

  /** The cheap scan: parse only what may be an error, the usage, or not JSON at all. */
  private inspect(raw: RawSseEvent): Verdict {
    if (raw.kind === 'comment' || raw.kind === 'empty') return Verdict.Pass;
    if (raw.kind === 'other') return this.inspectSlow(raw);
    const b = raw.buf;
    const start = raw.payloadStart;
    const end = raw.payloadEnd;
    if (isDonePayload(raw)) return Verdict.Done;
    if (b[start] === OPEN_BRACE && b[end - 1] === CLOSE_BRACE) {
      const keys = scanJsonKeys(b, start, end);
      if (keys & FINISH_KEY) this.answered = true;
      if ((keys & ~FINISH_KEY) === 0) return Verdict.Pass;
    }
    return this.parse(b.toString('utf8', start, end)) === undefined ? Verdict.Drop : Verdict.Pass;
  }

  /**
   * Several lines, `event:` / `id:` fields, text that is no SSE field at all...: decode it, parse every
   * data payload, and pass on only those, re-encoded. Its other lines are not forwarded as they came:
   * an upstream's plain-text error or HTML page there would reach the client unscrubbed (keys and
   * addresses included), and SSE clients ignore such lines anyway.
   */
  private inspectSlow(raw: RawSseEvent): Verdict {
    const decoded: Array<SseEvent | SseComment> = [];
    decodeSseEvent(raw, decoded);
    let frames = '';
    for (const ev of decoded) {
      if (isComment(ev)) continue;
      if (ev.data === '[DONE]') {
        frames += SSE_DONE;
        this.done = true;
        break;
      }
      if (this.parse(ev.data) !== undefined) frames += sseFrame(ev.data);
    }
    if (frames === '') return Verdict.Drop;
    this.rewritten = Buffer.from(frames);
    return Verdict.Rewrite;
  }

  /**
   * Parse one payload and keep its usage. Returns undefined for the usage-only chunk the client did
   * not ask for. An `{"error":...}` frame, malformed JSON or a non-object fails the stream.
   */
  private parse(data: string): ChatCompletionChunk | undefined {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      throw this.fail(this.malformed());
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw this.fail(this.malformed());
    const rec = json as Record<string, unknown>;
    // An error object ends the stream even beside `choices` (OpenRouter sends its mid-stream errors as
    // a chunk with `"error"` and `finish_reason: "error"`): passed on, it would reach the client unscrubbed.
    if (typeof rec.error === 'object' ? rec.error !== null : typeof rec.error === 'string') {
      throw this.fail(streamErrorFrom(normalizeProviderError(this.ctx.provider, 200, data, undefined, { scrubber: this.ctx.scrubber })));
    }
    const chunk = json as ChatCompletionChunk;
    if (!this.answered && Array.isArray(chunk.choices) && chunk.choices.some((c) => typeof c?.finish_reason === 'string')) this.answered = true;
    if (chunk.usage) {
      this.lastUsage = chunk.usage;
      if (this.dropUsageChunk && Array.isArray(chunk.choices) && chunk.choices.length === 0) return undefined;
    } else {
      const inChoice = usageInChoice(chunk.choices);
      if (inChoice !== undefined) this.lastUsage = inChoice;
    }
    return chunk;
  }

  private malformed(): ProviderError {
    // No cause: a JSON.parse message quotes the payload, which is the upstream's text.
    return new ProviderError({
      provider: this.ctx.provider,
      status: 502,
      errorClass: 'bad_response',
      code: 'malformed_stream_event',
      message: `${this.ctx.provider}: malformed JSON in the upstream stream`,
    });
  }
}

const DONE_FRAME = Buffer.from('data: [DONE]\n\n');

/**
 * Moonshot (Kimi) reports a stream's usage unasked, inside its last choice
 * (`choices[0].usage`) rather than at the top level; without this its streams counted no tokens.
 */
function usageInChoice(choices: unknown): Usage | undefined {
  if (!Array.isArray(choices)) return undefined;
  for (const c of choices) {
    const u = (c as { usage?: unknown } | null)?.usage;
    if (typeof u === 'object' && u !== null && !Array.isArray(u)) return u as Usage;
  }
  return undefined;
}

function slice(buf: Buffer, start: number, end: number): Buffer {
  return start === 0 && end === buf.length ? buf : buf.subarray(start, end);
}

function noop(): void {}
