import { ProviderError } from '../errors.js';
import { normalizeProviderError } from '../normalize-error.js';
import { SSE_DONE, isComment, sseFrame } from '../sse.js';
import { UpstreamSseStream, streamErrorFrom } from '../upstream-stream.js';
import type { ChatCompletionChunk } from '../types.js';

/**
 * A stream from a provider that already speaks OpenAI SSE. `sse()` passes each upstream `data:` payload
 * through as it came (no JSON round trip); it only parses the frames that may carry an error or the usage.
 */
export class OpenAISseStream extends UpstreamSseStream {
  async *[Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk> {
    for await (const batch of this.batches()) {
      for (const ev of batch) {
        if (this.done || isComment(ev)) continue;
        if (ev.data === '[DONE]') {
          this.done = true;
          continue;
        }
        const chunk = this.parse(ev.data);
        if (chunk.usage) this.lastUsage = chunk.usage;
        yield chunk;
      }
    }
  }

  async *sse(): AsyncIterable<string> {
    for await (const batch of this.batches()) {
      let out = '';
      for (const ev of batch) {
        if (this.done) break;
        if (isComment(ev)) {
          out += `:${ev.comment}\n\n`;
          continue;
        }
        if (ev.data === '[DONE]') {
          this.done = true;
          out += SSE_DONE;
          continue;
        }
        // A raw `"error":` / `"usage":{` can only be a key (quotes inside JSON strings are escaped),
        // so content chunks skip the parse.
        if (ev.data.includes('"error":') || ev.data.includes('"usage":{')) {
          try {
            const chunk = this.parse(ev.data);
            if (chunk.usage) this.lastUsage = chunk.usage;
          } catch (err) {
            if (out) yield out; // what came before the error still reaches the client
            throw err;
          }
        }
        out += sseFrame(ev.data);
      }
      if (out) yield out;
    }
  }

  /** Parse one payload; an `{"error":...}` frame or malformed JSON fails the stream. */
  private parse(data: string): ChatCompletionChunk {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch (cause) {
      throw this.fail(
        new ProviderError({
          provider: this.ctx.provider,
          status: 502,
          errorClass: 'bad_response',
          message: `${this.ctx.provider}: malformed JSON in the upstream stream`,
          cause,
        }),
      );
    }
    const rec = json as Record<string, unknown>;
    if (rec && typeof rec === 'object' && rec.error !== undefined && rec.error !== null && !Array.isArray(rec.choices)) {
      throw this.fail(streamErrorFrom(normalizeProviderError(this.ctx.provider, 200, data, undefined, { secrets: this.ctx.secrets })));
    }
    return json as ChatCompletionChunk;
  }
}
