import { SseEventTooLargeError, SseParser, type SseComment, type SseEvent } from './sse.js';

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

/** How an event is laid out, so the common shapes need no decoding. */
export type RawSseEventKind =
  /** One `data:` line: the payload is `bytes[payloadStart, payloadEnd)`. */
  | 'data'
  /** One `:` comment line (a keep-alive). */
  | 'comment'
  /** A stray blank line. */
  | 'empty'
  /** Anything else (`event:` names, several lines): decode it with `decodeSseEvent`. */
  | 'other';

/** One complete SSE event exactly as the upstream sent it, up to and including the blank line that ends it. */
export interface RawSseEvent {
  bytes: Buffer;
  kind: RawSseEventKind;
  payloadStart: number;
  payloadEnd: number;
}

/**
 * Splits upstream bytes into whole SSE events without decoding them, in linear time: each byte is
 * looked at once (line ends found with native `indexOf`), an incomplete event is kept as a list of
 * the reads it spans and copied once, when its end arrives. Events are views into the reads when they
 * fit in one, so passing them on copies nothing. One event may not exceed `maxEventSize` bytes
 * (`SseEventTooLargeError`): a line with no end would otherwise grow without bound.
 */
export class SseByteScanner {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** The bytes seen so far end at the start of a line. */
  private atLineStart = true;
  /** The last read ended on `\r`: a `\n` opening the next read belongs to it. */
  private crLast = false;
  /** Non-blank lines of the current event so far, and where (in the event) the first one ends. */
  private lines = 0;
  private firstLineEnd = -1;

  constructor(private readonly maxEventSize = Infinity) {}

  /** Append the events `buf` completes to `out`; keep the incomplete tail. */
  push(buf: Buffer, out: RawSseEvent[]): void {
    if (buf.length === 0) return;
    let eventStart = 0; // where the current event begins in `buf` (it may have begun in `pending`)
    let i = 0; // first byte not examined yet
    if (this.crLast && buf.length > 0 && buf[0] === LF) i = 1;
    this.crLast = false;
    let lf = -2;
    let cr = -2;
    for (;;) {
      if (lf !== -1 && lf < i) lf = buf.indexOf(LF, i);
      if (cr !== -1 && cr < i) cr = buf.indexOf(CR, i);
      const p = lf === -1 ? cr : cr === -1 ? lf : lf < cr ? lf : cr;
      if (p === -1) break;
      let next = p + 1;
      if (buf[p] === CR) {
        if (next === buf.length) this.crLast = true;
        else if (buf[next] === LF) next++;
      }
      if (this.atLineStart && p === i) {
        this.emit(buf, eventStart, next, out);
        eventStart = next;
      } else {
        if (this.lines === 0) this.firstLineEnd = this.pendingLength + p - eventStart;
        this.lines++;
      }
      this.atLineStart = true;
      i = next;
    }
    if (i < buf.length) this.atLineStart = false;
    if (eventStart < buf.length) {
      this.pending.push(eventStart === 0 ? buf : buf.subarray(eventStart));
      this.pendingLength += buf.length - eventStart;
      if (this.pendingLength > this.maxEventSize) throw new SseEventTooLargeError(this.maxEventSize);
    }
  }

  /** End of input: an unterminated last event is completed (lenient, like the text parser) and dispatched. */
  end(out: RawSseEvent[]): void {
    if (this.pendingLength === 0) return;
    this.push(Buffer.from(this.atLineStart ? '\n' : '\n\n'), out);
  }

  private emit(buf: Buffer, start: number, end: number, out: RawSseEvent[]): void {
    let bytes: Buffer;
    if (this.pendingLength > 0) {
      this.pending.push(buf.subarray(start, end));
      bytes = Buffer.concat(this.pending, this.pendingLength + end - start);
      this.pending = [];
      this.pendingLength = 0;
    } else {
      bytes = buf.subarray(start, end);
    }
    if (bytes.length > this.maxEventSize) throw new SseEventTooLargeError(this.maxEventSize);
    let kind: RawSseEventKind = 'other';
    let payloadStart = -1;
    let payloadEnd = -1;
    if (this.lines === 0) kind = 'empty';
    else if (this.lines === 1) {
      if (bytes[0] === COLON) kind = 'comment';
      else if (bytes[0] === 0x64 && bytes[1] === 0x61 && bytes[2] === 0x74 && bytes[3] === 0x61 && bytes[4] === COLON) {
        kind = 'data';
        payloadStart = bytes[5] === SPACE ? 6 : 5;
        payloadEnd = this.firstLineEnd;
      }
    }
    this.lines = 0;
    this.firstLineEnd = -1;
    out.push({ bytes, kind, payloadStart, payloadEnd });
  }
}

/** The event(s) of a raw event, decoded (the slow path, for the shapes `kind` does not cover). */
export function decodeSseEvent(raw: RawSseEvent, out: Array<SseEvent | SseComment>): void {
  switch (raw.kind) {
    case 'data':
      out.push({ event: undefined, data: raw.bytes.toString('utf8', raw.payloadStart, raw.payloadEnd) });
      return;
    case 'empty':
      return;
    default: {
      const parser = new SseParser();
      parser.push(raw.bytes.toString('utf8'), out);
      parser.end(out);
    }
  }
}

/** The payload of a `data` event is exactly `[DONE]`. */
export function isDonePayload(raw: RawSseEvent): boolean {
  const b = raw.bytes;
  const s = raw.payloadStart;
  return (
    raw.payloadEnd - s === 6 && b[s] === 0x5b && b[s + 1] === 0x44 && b[s + 2] === 0x4f && b[s + 3] === 0x4e && b[s + 4] === 0x45 && b[s + 5] === 0x5d
  );
}

/**
 * Does `bytes[from, to)` hold `"key"` as an object key (followed by `:`), and, when `valueStart` is
 * given, with a value starting with that byte? Inside JSON strings quotes are escaped, so a raw
 * `"key"` followed by `:` can only be a key.
 */
export function hasJsonKey(bytes: Buffer, key: Buffer, from: number, to: number, valueStart?: number): boolean {
  let at = bytes.indexOf(key, from);
  while (at !== -1 && at + key.length < to) {
    let j = at + key.length;
    while (j < to && bytes[j] === SPACE) j++;
    if (bytes[j] === COLON) {
      if (valueStart === undefined) return true;
      j++;
      while (j < to && bytes[j] === SPACE) j++;
      if (bytes[j] === valueStart) return true;
    }
    at = bytes.indexOf(key, at + 1);
  }
  return false;
}
