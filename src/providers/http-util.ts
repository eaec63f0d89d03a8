import { ProviderError } from './errors.js';
import { normalizeProviderError } from './normalize-error.js';
import type { SecretScrubber } from './scrub.js';
import type { ResponseHeaders } from './transport.js';
import type { ProviderTimeouts } from './types.js';

export interface ReadContext {
  provider: string;
  signal: AbortSignal | undefined;
  timeouts: Readonly<ProviderTimeouts>;
  scrubber: SecretScrubber;
  /** Bytes a whole (non-streamed) body may take (`providers.*.maxResponseSize`). */
  maxResponseSize: number;
}

/**
 * A 2xx JSON body, already read. Some providers answer 200 with an error object instead of the
 * payload: that is an error too (classified by its code, else `bad_response`).
 */
export function parsePayload<T>(
  text: string,
  res: { statusCode: number; headers: ResponseHeaders },
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
