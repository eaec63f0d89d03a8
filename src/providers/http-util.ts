import { ProviderError, tooLargeError } from './errors.js';
import { normalizeProviderError } from './normalize-error.js';
import type { SecretScrubber } from './scrub.js';
import { destroyBody, transportError, type ResponseHeaders, type TransportResponse } from './transport.js';
import type { ProviderTimeouts } from './types.js';

export interface ReadContext {
  provider: string;
  signal: AbortSignal | undefined;
  timeouts: Readonly<ProviderTimeouts>;
  scrubber: SecretScrubber;
  /** Bytes a whole (non-streamed) body may take (`providers.*.maxResponseSize`). */
  maxResponseSize: number;
  /** Give up a body before its end (the transport then reconnects lazily). Default: destroy it. */
  abandon?: (body: TransportResponse['body']) => void;
}

/**
 * Read the whole body as text (consuming it, so the socket goes back to keep-alive). A body over
 * `maxResponseSize` is dropped as soon as it crosses the cap (socket destroyed): 502 `response_too_large`.
 */
export function readText(res: TransportResponse, ctx: ReadContext): Promise<string> {
  const body = res.body;
  const max = ctx.maxResponseSize;
  const declared = Number(res.headers['content-length']);
  const abandon = ctx.abandon ?? destroyBody;
  if (declared > max) {
    abandon(body);
    return Promise.reject(tooLarge(ctx));
  }
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > max) {
        cleanup();
        abandon(body);
        reject(tooLarge(ctx));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, length).toString('utf8'));
    };
    const onError = (err: unknown) => {
      cleanup();
      abandon(body);
      reject(transportError(ctx.provider, err, ctx.signal, ctx.timeouts));
    };
    const cleanup = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
  });
}

function tooLarge(ctx: ReadContext): ProviderError {
  return tooLargeError(ctx.provider, `${ctx.provider}: the upstream response exceeds maxResponseSize (${ctx.maxResponseSize} bytes)`);
}

/** A non-2xx response -> normalized ProviderError (body consumed, secrets scrubbed). */
export async function readError(res: TransportResponse, ctx: ReadContext): Promise<ProviderError> {
  const text = await readText(res, ctx);
  return normalizeProviderError(ctx.provider, res.statusCode, text, res.headers, { scrubber: ctx.scrubber });
}

/**
 * A 2xx JSON body, already read. Some providers answer 200 with an error object instead of the
 * payload: that is an error too (classified by its code, else `bad_response`).
 */
export function parsePayload<T>(
  text: string,
  res: { statusCode: number; headers: TransportResponse['headers'] | ResponseHeaders },
  ctx: Pick<ReadContext, 'provider' | 'scrubber'>,
  isPayload: (v: Record<string, unknown>) => boolean,
): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // No cause: a JSON.parse message quotes the body, which may echo a secret.
    throw new ProviderError({
      provider: ctx.provider,
      status: 502,
      errorClass: 'bad_response',
      message: `${ctx.provider}: upstream returned a body that is not JSON`,
    });
  }
  if (typeof json !== 'object' || json === null || !isPayload(json as Record<string, unknown>)) {
    const err = normalizeProviderError(ctx.provider, res.statusCode, text, res.headers, { scrubber: ctx.scrubber });
    // Keep the classification of a recognizable code, but never answer "200" for a failure.
    throw new ProviderError({
      provider: ctx.provider,
      status: err.errorClass === 'bad_response' ? 502 : statusFor(err),
      errorClass: err.errorClass,
      message: err.message,
      type: err.body.error.type,
      code: err.body.error.code,
      param: err.body.error.param,
    });
  }
  return json as T;
}

function statusFor(err: ProviderError): number {
  switch (err.errorClass) {
    case 'auth':
      return 401;
    case 'quota':
      return 402;
    case 'not_found':
      return 404;
    case 'rate_limited':
      return 429;
    case 'client_error':
      return 400;
    default:
      return 502;
  }
}

/** Does the response carry a JSON body (rather than the SSE we asked for)? */
export function isJsonResponse(res: TransportResponse): boolean {
  const ct = res.headers['content-type'];
  return typeof ct === 'string' && ct.includes('json');
}
