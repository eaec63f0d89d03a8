/** One server-sent event. `data` is the payload exactly as sent (multi-line data joined with `\n`). */
export interface SseEvent {
  event: string | undefined;
  data: string;
}

/** A `: comment` line (keep-alive); passed on so downstream proxies stay alive while a model thinks. */
export interface SseComment {
  comment: string;
}

/**
 * Incremental SSE parser (WHATWG rules): events split across network chunks, `\r\n`/`\r`/`\n` line ends,
 * multi-line `data:`, comments, `event:` names; `id:`/`retry:` are ignored. Feed decoded text, get events.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event: string | undefined;
  /** A chunk ended on `\r`: its `\n` may open the next chunk and must not count as a second line end. */
  private pendingCr = false;

  /** Parse what is complete; keep the incomplete tail for the next call. */
  push(text: string, out: Array<SseEvent | SseComment>): void {
    let buf = this.buffer + text;
    if (this.pendingCr && buf.startsWith('\n')) buf = buf.slice(1);
    this.pendingCr = false;
    let start = 0;
    for (;;) {
      const lf = buf.indexOf('\n', start);
      const cr = buf.indexOf('\r', start);
      let end: number;
      if (lf === -1 && cr === -1) break;
      if (cr === -1 || (lf !== -1 && lf < cr)) end = lf;
      else end = cr;
      const line = buf.slice(start, end);
      if (buf[end] === '\r') {
        if (end + 1 === buf.length) this.pendingCr = true;
        start = buf[end + 1] === '\n' ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
      this.line(line, out);
    }
    this.buffer = buf.slice(start);
  }

  /** End of input: an unterminated last event is dispatched (the spec would drop it; a lenient reader is safer). */
  end(out: Array<SseEvent | SseComment>): void {
    if (this.buffer) this.line(this.buffer, out);
    this.buffer = '';
    this.line('', out);
  }

  private line(line: string, out: Array<SseEvent | SseComment>): void {
    if (line === '') {
      if (this.data.length > 0) out.push({ event: this.event, data: this.data.join('\n') });
      this.data = [];
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
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
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
