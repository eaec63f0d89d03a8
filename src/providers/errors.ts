/**
 * OpenAI's error body: what a `ProviderError` carries, and what the OpenAI-style endpoints answer a
 * failure with. Not every failure leaves in it: the Anthropic routes answer in Anthropic's error shape,
 * the `/v1/pool/*` endpoints in their `{success, data, message}` envelope.
 */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | number | null };
}

/**
 * Why a call failed, as the router needs it. The classes map to actions in `ERROR_ACTIONS` below.
 */
export type ErrorClass =
  | 'client_error' // 400/413/422, content filter: the caller's fault, never retried
  | 'auth' // 401/403: unhealthy until re-checked
  | 'quota' // 402, insufficient_quota, arrears: unhealthy until re-checked
  | 'not_found' // 404 model/deployment: misconfigured, fail over
  | 'rate_limited' // 429 (not quota)
  | 'server_error' // 5xx, 529
  | 'temporarily_unavailable' // Ark ClosedEndpoint and the like
  | 'timeout' // connect / first byte / idle
  | 'network' // reset, refused, DNS
  | 'bad_response' // malformed JSON or SSE from upstream
  | 'stream_error' // an error event inside a 200 stream
  | 'response_too_large' // a body or one SSE event over providers.*.maxResponseSize / maxEventSize
  | 'aborted'; // the caller hung up

export interface ErrorAction {
  /** Try the same deployment again (after backoff). */
  retry: boolean;
  /** Try another deployment. */
  failover: boolean;
  /** Counts toward opening the deployment's circuit. */
  cooldown: boolean;
  /** Take the adapter out until a health check passes. */
  unhealthy: boolean;
}

export const ERROR_ACTIONS: Readonly<Record<ErrorClass, ErrorAction>> = {
  client_error: { retry: false, failover: false, cooldown: false, unhealthy: false },
  auth: { retry: false, failover: true, cooldown: true, unhealthy: true },
  quota: { retry: false, failover: true, cooldown: true, unhealthy: true },
  not_found: { retry: false, failover: true, cooldown: true, unhealthy: false },
  // A 429 is the upstream asking for time, not failing: its Retry-After (the router's throttle) is the
  // answer. Counted against the circuit, a model with one deployment turned a 1 s limit into 503s for
  // the whole circuit cooldown (LiteLLM does not cool down single-deployment groups on 429 either).
  rate_limited: { retry: true, failover: true, cooldown: false, unhealthy: false },
  server_error: { retry: true, failover: true, cooldown: true, unhealthy: false },
  temporarily_unavailable: { retry: true, failover: true, cooldown: true, unhealthy: false },
  timeout: { retry: true, failover: true, cooldown: true, unhealthy: false },
  network: { retry: true, failover: true, cooldown: true, unhealthy: false },
  bad_response: { retry: true, failover: true, cooldown: true, unhealthy: false },
  stream_error: { retry: true, failover: true, cooldown: true, unhealthy: false },
  // The same request would likely bring the same oversized answer: try elsewhere, not here again. The
  // size is the request's doing, not the deployment's health: it does not count against the circuit
  // (a large batch of embeddings would otherwise shut every client out of the model).
  response_too_large: { retry: false, failover: true, cooldown: false, unhealthy: false },
  aborted: { retry: false, failover: false, cooldown: false, unhealthy: false },
};

export interface ProviderErrorInit {
  provider: string;
  status: number;
  errorClass: ErrorClass;
  message: string;
  type?: string;
  code?: string | number | null;
  param?: string | null;
  retryAfterMs?: number;
  cause?: unknown;
}

/** One typed error for every provider failure. Never carries a provider key. */
export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  readonly provider: string;
  /** Upstream HTTP status, or the status we answer with for transport failures (504 timeout, 502 network). */
  readonly status: number;
  readonly errorClass: ErrorClass;
  readonly retryAfterMs: number | undefined;
  readonly body: OpenAIErrorBody;

  constructor(init: ProviderErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.provider = init.provider;
    this.status = init.status;
    this.errorClass = init.errorClass;
    this.retryAfterMs = init.retryAfterMs;
    this.body = {
      error: {
        message: init.message,
        type: init.type ?? defaultType(init.errorClass),
        param: init.param ?? null,
        code: init.code ?? null,
      },
    };
  }

  get action(): ErrorAction {
    return ERROR_ACTIONS[this.errorClass];
  }
}

/**
 * A request field has a shape a translation cannot read (chat -> Anthropic: `tools` not a list, a
 * content part that is not an object...). Raised in our process before anything is sent, so not a
 * ProviderError: no deployment is to blame and nothing is retried. The server answers 400 naming `param`.
 */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

/**
 * An upstream answer over the size caps. The server answers 502 `upstream_response_too_large`
 * (its code is `upstream_<class>`).
 */
export function tooLargeError(provider: string, message: string): ProviderError {
  return new ProviderError({ provider, status: 502, errorClass: 'response_too_large', code: 'upstream_response_too_large', message });
}

function defaultType(c: ErrorClass): string {
  switch (c) {
    case 'client_error':
      return 'invalid_request_error';
    case 'auth':
      return 'authentication_error';
    case 'quota':
      return 'insufficient_quota';
    case 'not_found':
      return 'not_found_error';
    case 'rate_limited':
      return 'rate_limit_error';
    case 'timeout':
      return 'timeout_error';
    default:
      return 'api_error';
  }
}
