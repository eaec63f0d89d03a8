import { isComment, sseFrame, SseEventTooLargeError, SseParser, type SseComment, type SseEvent } from './sse.js';

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const QUOTE = 0x22;
const OPEN_BRACE = 0x7b;

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

/**
 * One complete SSE event exactly as the upstream sent it, up to and including the blank line that ends
 * it: `buf[start, end)`. `buf` is the network read itself when the event fits in one (so consecutive
 * events of a read are consecutive ranges of one buffer, and passing them on allocates nothing), or
 * the joined bytes of an event that spanned several reads.
 */
export interface RawSseEvent {
  buf: Buffer;
  start: number;
  end: number;
  kind: RawSseEventKind;
  /** `data` events: the payload is `buf[payloadStart, payloadEnd)`; -1 otherwise. */
  payloadStart: number;
  payloadEnd: number;
}

/**
 * Splits upstream bytes into whole SSE events without decoding them, in linear time: each byte is
 * looked at once (a plain loop: for events of a few hundred bytes it beats native `indexOf` calls and
 * their typed-array views), an incomplete event is kept as the list of the reads it spans and joined
 * once, when its end arrives. One event may not exceed `maxEventSize` bytes (`SseEventTooLargeError`):
 * a line with no end would otherwise grow without bound.
 */
export class SseByteScanner {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** The bytes seen so far end at the start of a line. */
  private atLineStart = true;
  /** The last read ended on `\r`: a `\n` opening the next read belongs to it. */
  private crLast = false;
  /** Non-blank lines of the current event so far, and where (from the event's start) the first one ends. */
  private lines = 0;
  private firstLineEnd = -1;

  constructor(private readonly maxEventSize = Infinity) {}

  /** Append the events `buf` completes to `out`; keep the incomplete tail. */
  push(buf: Buffer, out: RawSseEvent[]): void {
    const length = buf.length;
    if (length === 0) return;
    let eventStart = 0; // where the current event begins in `buf` (it may have begun in `pending`)
    let lineStart = 0;
    if (this.crLast && buf[0] === LF) lineStart = 1;
    this.crLast = false;
    let p = lineStart;
    while (p < length) {
      const c = buf[p]!;
      if (c !== LF && c !== CR) {
        p++;
        continue;
      }
      let next = p + 1;
      if (c === CR) {
        if (next === length) this.crLast = true;
        else if (buf[next] === LF) next++;
      }
      if (this.atLineStart && p === lineStart) {
        this.emit(buf, eventStart, next, out);
        eventStart = next;
      } else {
        if (this.lines === 0) this.firstLineEnd = this.pendingLength + p - eventStart;
        this.lines++;
      }
      this.atLineStart = true;
      lineStart = p = next;
    }
    if (lineStart < length) this.atLineStart = false;
    if (eventStart < length) {
      this.pending.push(eventStart === 0 ? buf : buf.subarray(eventStart));
      this.pendingLength += length - eventStart;
      if (this.pendingLength > this.maxEventSize) throw new SseEventTooLargeError(this.maxEventSize);
    }
  }

  /** End of input: an unterminated last event is completed (lenient, like the text parser) and dispatched. */
  end(out: RawSseEvent[]): void {
    if (this.pendingLength === 0) return;
    this.push(Buffer.from(this.atLineStart ? '\n' : '\n\n'), out);
  }

  private emit(buf: Buffer, start: number, end: number, out: RawSseEvent[]): void {
    if (this.pendingLength > 0) {
      this.pending.push(buf.subarray(start, end));
      buf = Buffer.concat(this.pending, this.pendingLength + end - start);
      start = 0;
      end = buf.length;
      this.pending = [];
      this.pendingLength = 0;
    }
    if (end - start > this.maxEventSize) throw new SseEventTooLargeError(this.maxEventSize);
    let kind: RawSseEventKind = 'other';
    let payloadStart = -1;
    let payloadEnd = -1;
    if (this.lines === 0) kind = 'empty';
    else if (this.lines === 1) {
      if (buf[start] === COLON) kind = 'comment';
      else if (buf[start] === 0x64 && buf[start + 1] === 0x61 && buf[start + 2] === 0x74 && buf[start + 3] === 0x61 && buf[start + 4] === COLON) {
        kind = 'data';
        payloadStart = buf[start + 5] === SPACE ? start + 6 : start + 5;
        payloadEnd = start + this.firstLineEnd;
      }
    }
    this.lines = 0;
    this.firstLineEnd = -1;
    out.push({ buf, start, end, kind, payloadStart, payloadEnd });
  }
}

/** The event(s) of a raw event, decoded (the slow path, for the shapes `kind` does not cover). */
export function decodeSseEvent(raw: RawSseEvent, out: Array<SseEvent | SseComment>): void {
  switch (raw.kind) {
    case 'data':
      out.push({ event: undefined, data: raw.buf.toString('utf8', raw.payloadStart, raw.payloadEnd) });
      return;
    case 'empty':
      return;
    default: {
      const parser = new SseParser();
      parser.push(raw.buf.toString('utf8', raw.start, raw.end), out);
      parser.end(out);
    }
  }
}

/** The payload of a `data` event is exactly `[DONE]`. */
export function isDonePayload(raw: RawSseEvent): boolean {
  const b = raw.buf;
  const s = raw.payloadStart;
  return (
    raw.payloadEnd - s === 6 && b[s] === 0x5b && b[s + 1] === 0x44 && b[s + 2] === 0x4f && b[s + 3] === 0x4e && b[s + 4] === 0x45 && b[s + 5] === 0x5d
  );
}

/** `"error"` used as a key somewhere in the payload. */
const ERROR_KEY = 1;
/** `"usage"` used as a key with an object value. */
const USAGE_KEY = 2;
/** `"finish_reason"` used as a key with a string value (not `null`): the answer is complete. */
export const FINISH_KEY = 4;

/** `inish_reason"`: the bytes after the opening quote and the `f`. */
const INISH_REASON = Buffer.from('inish_reason"');

/**
 * Which of the keys `"error"` (any value), `"usage"` (an object value) and `"finish_reason"` (a string
 * value) appear in `b[from, to)`, as `ERROR_KEY | USAGE_KEY | FINISH_KEY` bits. Inside JSON strings
 * quotes are escaped, so a raw `"error"` followed by `:` can only be a key. One plain pass that stops
 * only at quotes.
 */
export function scanJsonKeys(b: Buffer, from: number, to: number): number {
  let found = 0;
  for (let i = from; i < to - 7; i++) {
    if (b[i] !== QUOTE) continue;
    const c = b[i + 1];
    let value: number;
    if (c === 0x65 && b[i + 2] === 0x72 && b[i + 3] === 0x72 && b[i + 4] === 0x6f && b[i + 5] === 0x72 && b[i + 6] === QUOTE) {
      value = valueAfterKey(b, i + 7, to);
      if (value !== -1) found |= ERROR_KEY;
    } else if (c === 0x75 && b[i + 2] === 0x73 && b[i + 3] === 0x61 && b[i + 4] === 0x67 && b[i + 5] === 0x65 && b[i + 6] === QUOTE) {
      value = valueAfterKey(b, i + 7, to);
      if (value !== -1 && b[value] === OPEN_BRACE) found |= USAGE_KEY;
    } else if (c === 0x66 && i + 15 < to && bytesAt(b, i + 2, INISH_REASON)) {
      value = valueAfterKey(b, i + 15, to);
      if (value !== -1 && b[value] === QUOTE) found |= FINISH_KEY;
    }
  }
  return found;
}

/** `b` holds `bytes` at `at` (a plain loop: no call into the runtime for a dozen bytes). */
function bytesAt(b: Buffer, at: number, bytes: Buffer): boolean {
  for (let k = 0; k < bytes.length; k++) if (b[at + k] !== bytes[k]) return false;
  return true;
}

/** After a quoted name: the index of the value if a `:` follows (spaces skipped), else -1. */
function valueAfterKey(b: Buffer, j: number, to: number): number {
  while (j < to && b[j] === SPACE) j++;
  if (b[j] !== COLON) return -1;
  j++;
  while (j < to && b[j] === SPACE) j++;
  return j;
}

const FIELD_NAMES = ['data', 'event', 'id', 'retry'].map((n) => Buffer.from(n));

/**
 * `raw` holds a line that is no SSE field: not a comment, not `data`, `event`, `id` or `retry`
 * (an upstream's plain-text error, an HTML page). SSE clients skip such lines; a gateway passing the
 * event on as it came would hand them over unscrubbed.
 */
export function hasForeignLines(raw: RawSseEvent): boolean {
  const b = raw.buf;
  let i = raw.start;
  while (i < raw.end) {
    const c = b[i]!;
    if (c !== LF && c !== CR && c !== COLON && !startsWithField(b, i, raw.end)) return true;
    while (i < raw.end && b[i] !== LF && b[i] !== CR) i++;
    while (i < raw.end && (b[i] === LF || b[i] === CR)) i++;
  }
  return false;
}

function startsWithField(b: Buffer, at: number, end: number): boolean {
  for (const name of FIELD_NAMES) {
    const after = at + name.length;
    if (after > end || !bytesAt(b, at, name)) continue;
    const next = b[after];
    if (after === end || next === COLON || next === LF || next === CR) return true;
  }
  return false;
}

/** Decoded events written again as SSE (`event:` when named, then the data frame); comments left out. */
export function encodeSseEvents(events: ReadonlyArray<SseEvent | SseComment>): string {
  let out = '';
  for (const ev of events) {
    if (isComment(ev)) continue;
    if (ev.event !== undefined) out += `event: ${ev.event}\n`;
    out += sseFrame(ev.data);
  }
  return out;
}
