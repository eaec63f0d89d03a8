/** One server-sent event. `data` is the payload exactly as sent (multi-line data joined with `\n`). */
export interface SseEvent {
  event: string | undefined;
  data: string;
}

/** A `: comment` line (keep-alive); passed on so downstream proxies stay alive while a model thinks. */
export interface SseComment {
  comment: string;
}

/** One event (or one incomplete line) grew past the configured cap: a misbehaving upstream. */
export class SseEventTooLargeError extends Error {
  override readonly name = 'SseEventTooLargeError';
  constructor(readonly limit: number) {
    super(`an SSE event exceeds ${limit} bytes`);
  }
}

/**
 * Incremental SSE parser (WHATWG rules): events split across network chunks, `\r\n`/`\r`/`\n` line ends,
 * multi-line `data:`, comments, `event:` names; `id:`/`retry:` are ignored. Feed decoded text, get events.
 *
 * Linear time: each pushed piece is scanned once; an incomplete line is kept as a list of pieces and
 * joined once, when its line end arrives (re-scanning the buffered text on every push was quadratic).
 */
export class SseParser {
  /** Pieces of the current incomplete line. */
  private partial: string[] = [];
  private partialLength = 0;
  private data: string[] = [];
  private dataLength = 0;
  private event: string | undefined;
  /** A chunk ended on `\r`: its `\n` may open the next chunk and must not count as a second line end. */
  private pendingCr = false;

  /** @param maxEventSize characters one event (or one line) may hold before `SseEventTooLargeError`. */
  constructor(private readonly maxEventSize = Infinity) {}

  /** Parse what is complete; keep the incomplete tail for the next call. */
  push(text: string, out: Array<SseEvent | SseComment>): void {
    let start = 0;
    if (this.pendingCr && text.charCodeAt(0) === 10) start = 1;
    this.pendingCr = false;
    let lf = text.indexOf('\n', start);
    let cr = text.indexOf('\r', start);
    while (lf !== -1 || cr !== -1) {
      const end = cr === -1 || (lf !== -1 && lf < cr) ? lf : cr;
      let line = text.slice(start, end);
      if (this.partial.length > 0) {
        this.partial.push(line);
        line = this.partial.join('');
        this.partial = [];
        this.partialLength = 0;
      }
      if (text.charCodeAt(end) === 13) {
        if (end + 1 === text.length) this.pendingCr = true;
        start = text.charCodeAt(end + 1) === 10 ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
      this.line(line, out);
      if (lf !== -1 && lf < start) lf = text.indexOf('\n', start);
      if (cr !== -1 && cr < start) cr = text.indexOf('\r', start);
    }
    if (start < text.length) {
      this.partial.push(start === 0 ? text : text.slice(start));
      this.partialLength += text.length - start;
      if (this.partialLength + this.dataLength > this.maxEventSize) throw new SseEventTooLargeError(this.maxEventSize);
    }
  }

  /** End of input: an unterminated last event is dispatched (the spec would drop it; a lenient reader is safer). */
  end(out: Array<SseEvent | SseComment>): void {
    if (this.partial.length > 0) this.line(this.partial.join(''), out);
    this.partial = [];
    this.partialLength = 0;
    this.line('', out);
  }

  private line(line: string, out: Array<SseEvent | SseComment>): void {
    if (line === '') {
      if (this.data.length > 0) out.push({ event: this.event, data: this.data.join('\n') });
      this.data = [];
      this.dataLength = 0;
      this.event = undefined;
      return;
    }
    const colon = line.indexOf(':');
    if (colon === 0) {
      out.push({ comment: line.slice(1) });
      return;
    }
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.data.push(value);
      this.dataLength += value.length + 1;
      if (this.dataLength > this.maxEventSize) throw new SseEventTooLargeError(this.maxEventSize);
    } else if (field === 'event') this.event = value;
  }
}

export function isComment(e: SseEvent | SseComment): e is SseComment {
  return (e as SseComment).comment !== undefined;
}

/** Serialize one data payload as an SSE frame; multi-line payloads get one `data:` line each. */
export function sseFrame(data: string): string {
  return data.includes('\n') ? `${data.split('\n').map((l) => `data: ${l}`).join('\n')}\n\n` : `data: ${data}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';
