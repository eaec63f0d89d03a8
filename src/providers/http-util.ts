import { ProviderError } from './errors.js';
import { normalizeProviderError } from './normalize-error.js';
import { transportError, type TransportResponse } from './transport.js';
import type { ProviderTimeouts } from './types.js';
import { destroyBody } from './upstream-stream.js';

export interface ReadContext {
  provider: string;
  signal: AbortSignal | undefined;
  timeouts: Readonly<ProviderTimeouts>;
  secrets: readonly (string | undefined)[];
}

/** Read the whole body as text (consuming it, so the socket goes back to keep-alive). */
export async function readText(res: TransportResponse, ctx: ReadContext): Promise<string> {
  try {
    return await res.body.text();
  } catch (err) {
    destroyBody(res.body);
    throw transportError(ctx.provider, err, ctx.signal, ctx.timeouts);
  }
}

/** A non-2xx response -> normalized ProviderError (body consumed, key redacted). */
export async function readError(res: TransportResponse, ctx: ReadContext): Promise<ProviderError> {
  const text = await readText(res, ctx);
  return normalizeProviderError(ctx.provider, res.statusCode, text, res.headers, { secrets: ctx.secrets });
}

/**
 * A 2xx JSON body. Some providers answer 200 with an error object instead of the payload: that is an
 * error too (classified by its code, else `bad_response`).
 */
export async function readJson<T>(res: TransportResponse, ctx: ReadContext, isPayload: (v: Record<string, unknown>) => boolean): Promise<T> {
  const text = await readText(res, ctx);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ProviderError({
      provider: ctx.provider,
      status: 502,
      errorClass: 'bad_response',
      message: `${ctx.provider}: upstream returned a body that is not JSON`,
      cause,
    });
  }
  if (typeof json !== 'object' || json === null || !isPayload(json as Record<string, unknown>)) {
    const err = normalizeProviderError(ctx.provider, res.statusCode, text, res.headers, { secrets: ctx.secrets });
    // Keep the classification of a recognizable code, but never answer "200" for a failure.
    throw new ProviderError({
      provider: ctx.provider,
      status: err.errorClass === 'bad_response' ? 502 : statusFor(err),
      errorClass: err.errorClass,
      message: err.message,
      type: err.body.error.type,
      code: err.body.error.code,
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
