import { capText } from '../config/index.js';
import type { OpenAIErrorBody } from '../providers/errors.js';
import { InvalidRequestError, ProviderError } from '../providers/errors.js';
import {
  AcquireAbortedError,
  AcquireTimeoutError,
  CreateFailedError,
  PoolClosedError,
  PoolError,
  TooManyWaitersError,
} from '../pool/errors.js';
import { DeploymentsAtLimitError, NoDeploymentAvailableError, RequestTimeoutError } from '../routing/index.js';

/** An error the gateway itself answers with (auth, unknown model, not ready, ...). */
export class GatewayHttpError extends Error {
  override readonly name = 'GatewayHttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly retryAfterMs?: number,
    /** Extra response headers (e.g. `x-ratelimit-*`). */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
  }
}

/** How a failure goes out: status, OpenAI-shaped body and, for 503/429, Retry-After in seconds. */
export interface ErrorReply {
  status: number;
  body: OpenAIErrorBody;
  retryAfterSeconds?: number;
  /** Extra response headers. */
  headers?: Readonly<Record<string, string>>;
}

/** HTTP status for a client that hung up (nginx's convention); nobody reads the reply. */
const CLIENT_CLOSED = 499;

export function errorBody(message: string, type: string, code: string | number | null = null, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

/** Longest piece of client input repeated in a reply or a log line (a 3 MB model name is not echoed back). */
export const ECHO_LIMIT = 256;

export const modelNotFound = (model: string): GatewayHttpError =>
  new GatewayHttpError(404, `The model \`${capText(model, ECHO_LIMIT)}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found', 'model');

/**
 * A valid client key on an admin endpoint: the caller is known but may not do this, so 403 with
 * OpenAI's type for it (`permission_error`), not the 401 of a wrong key (SDKs take a 401 as "this
 * key is bad", though it works everywhere else). Names the setting, never the key.
 */
export const adminKeyRequired = (): GatewayHttpError =>
  new GatewayHttpError(
    403,
    'This endpoint requires the admin key (auth.adminKey): client API keys are not accepted on admin endpoints.',
    'permission_error',
    'admin_key_required',
  );

/**
 * The admin key on a model endpoint (chat, embeddings, messages, models): it is known, but it is no
 * client key (no limits, no usage rows of its own), so 403 like `adminKeyRequired`, naming the settings.
 */
export const clientKeyRequired = (): GatewayHttpError =>
  new GatewayHttpError(403, 'This is the admin key (auth.adminKey): model endpoints take a client API key (auth.keys or auth.apiKeys).', 'permission_error', 'client_key_required');

/** Where each endpoint kind is served, for the message of `wrongEndpoint`. */
const ENDPOINT_PATHS: Readonly<Record<string, string>> = { chat: 'POST /v1/chat/completions (or POST /v1/messages)', embeddings: 'POST /v1/embeddings' };

/** A model asked for on an endpoint it does not serve (config `models.<name>.endpoints`). */
export const wrongEndpoint = (model: string, asked: string, serves: readonly string[]): GatewayHttpError =>
  new GatewayHttpError(
    400,
    `The model \`${model}\` does not serve ${asked}: it serves ${serves.map((e) => ENDPOINT_PATHS[e] ?? e).join(' and ')}.`,
    'invalid_request_error',
    'model_not_supported',
    'model',
  );

/**
 * A client key (or every deployment of the model) is over its rate limit. OpenAI's shape: type
 * `requests` or `tokens`, code `rate_limit_exceeded`, plus Retry-After and the `x-ratelimit-*` headers.
 */
/**
 * 503 `shutting_down` with Retry-After 1 s: every answer of a gateway that is shutting down (a new
 * request, a wait cut at the deadline, a stream ended, a closed pool); `why` says which.
 */
export const shuttingDown = (why = 'The gateway is shutting down.'): GatewayHttpError =>
  new GatewayHttpError(503, why, 'service_unavailable_error', 'shutting_down', null, 1000);

export const rateLimited = (message: string, kind: 'requests' | 'tokens', retryAfterMs: number, headers?: Readonly<Record<string, string>>): GatewayHttpError =>
  new GatewayHttpError(429, message, kind, 'rate_limit_exceeded', null, retryAfterMs, headers);

/**
 * What went wrong, for the log line only (clients get the gateway's own words): the error's message
 * and its causes', capped. Provider errors are already scrubbed of every configured secret.
 */
export function errorDetail(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    const m = e instanceof Error ? e.message : String(e);
    // A cause its wrapper already quotes ("every deployment ... is busy: <cause>") is not said twice.
    if (m !== '' && !parts.some((p) => p.includes(m))) parts.push(m);
    e = e instanceof Error ? e.cause : undefined;
  }
  const text = parts.join(': caused by: ');
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

/** Map anything thrown while serving a request to its reply. Never echoes internals of unexpected errors. */
export function toErrorReply(err: unknown): ErrorReply {
  if (err instanceof GatewayHttpError) {
    const r = withRetry(err.status, errorBody(err.message, err.type, err.code, err.param), err.retryAfterMs);
    if (err.headers !== undefined) r.headers = err.headers;
    return r;
  }
  if (err instanceof ProviderError) return providerErrorReply(err);
  if (err instanceof InvalidRequestError) return { status: 400, body: errorBody(err.message, 'invalid_request_error', 'invalid_value', err.param) };
  if (err instanceof NoDeploymentAvailableError) {
    return withRetry(503, errorBody(err.message, 'service_unavailable_error', 'no_deployment_available'), err.retryAfterMs);
  }
  if (err instanceof RequestTimeoutError) {
    return { status: 504, body: errorBody(`The request did not finish within its time budget (routing.requestTimeout, ${err.timeoutMs} ms).`, 'timeout_error', 'request_budget_exceeded') };
  }
  if (err instanceof DeploymentsAtLimitError) {
    return withRetry(429, errorBody(err.message, 'rate_limit_error', 'deployment_rate_limited'), err.retryAfterMs);
  }
  if (err instanceof PoolError) return poolErrorReply(err);
  const fe = err as { statusCode?: number; code?: string; message?: string; validation?: unknown[]; validationContext?: string };
  if (Array.isArray(fe.validation)) return validationReply(fe.validation as AjvError[], fe.validationContext);
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: errorBody(`We could not parse the JSON body of your request: ${fe.message ?? ''}`.trim(), 'invalid_request_error', 'invalid_json') };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: errorBody('Request body too large.', 'invalid_request_error', 'request_too_large') };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: errorBody('Unsupported Content-Type: send application/json.', 'invalid_request_error', 'unsupported_media_type') };
  }
  if (err instanceof SyntaxError && fe.statusCode === 400) {
    return { status: 400, body: errorBody(`We could not parse the JSON body of your request: ${err.message}`, 'invalid_request_error', 'invalid_json') };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: errorBody(fe.message ?? 'Bad request', 'invalid_request_error', fe.code ?? null) };
  }
  return { status: 500, body: errorBody('The gateway failed to process the request.', 'server_error', 'internal_error') };
}

/**
 * An upstream failure, by the adapter's classification. The caller's own mistakes keep the
 * upstream status and body; failures of the gateway's credentials or of the upstream become
 * 502/503/504 (a 401 would tell the client its gateway key is wrong), and their messages are
 * the gateway's own so nothing of the provider's key can leak.
 */
function providerErrorReply(err: ProviderError): ErrorReply {
  const upstream = `upstream provider "${err.provider}"`;
  switch (err.errorClass) {
    case 'client_error':
      return { status: err.status >= 400 && err.status < 500 ? err.status : 400, body: err.body };
    case 'rate_limited':
      return withRetry(429, errorBody(`${upstream} is rate limiting requests.`, 'rate_limit_error', 'upstream_rate_limited'), err.retryAfterMs);
    case 'auth':
      return { status: 502, body: errorBody(`${upstream} rejected the gateway's credentials (HTTP ${err.status}).`, 'api_error', 'upstream_auth_failed'), headers: NO_RETRY };
    case 'quota':
      return { status: 502, body: errorBody(`${upstream} reports the gateway's quota or balance exhausted (HTTP ${err.status}).`, 'api_error', 'upstream_quota_exceeded'), headers: NO_RETRY };
    case 'not_found':
      return { status: 502, body: errorBody(`${upstream} does not know the configured model or deployment (HTTP ${err.status}).`, 'api_error', 'upstream_model_not_found'), headers: NO_RETRY };
    case 'timeout':
      return { status: 504, body: errorBody(`${upstream} timed out.`, 'timeout_error', 'upstream_timeout') };
    case 'aborted':
      return clientClosed('The client closed the request before the answer came.');
    case 'temporarily_unavailable':
      return withRetry(503, errorBody(`${upstream} is temporarily unavailable.`, 'service_unavailable_error', 'upstream_unavailable'), err.retryAfterMs);
    default:
      if (err.status === 503 || err.status === 529) {
        return withRetry(503, errorBody(`${upstream} is overloaded (HTTP ${err.status}).`, 'service_unavailable_error', 'upstream_unavailable'), err.retryAfterMs);
      }
      // The upstream's own words (addresses, socket errors, its error text) go to the log, not to the client.
      // A stream that simply stopped sent no error: say what happened, under the class's code.
      if (err.body.error.code === 'stream_incomplete') return { status: 502, body: errorBody(`${upstream} ended its stream early (before its last event).`, 'api_error', 'upstream_stream_error') };
      // An oversized answer comes back as large on a retry: the SDKs are told not to ask again.
      return {
        status: 502,
        body: errorBody(`${upstream} ${GENERIC_FAILURE[err.errorClass] ?? 'failed'}${err.errorClass === 'server_error' ? ` (HTTP ${err.status})` : ''}.`, 'api_error', `upstream_${err.errorClass}`),
        ...(err.errorClass === 'response_too_large' ? { headers: NO_RETRY } : {}),
      };
  }
}

/**
 * On a 5xx that retrying cannot fix (the gateway's key refused, its quota gone, its model unknown
 * upstream, an answer over the size limit): the OpenAI and Anthropic SDKs read `x-should-retry` before the status, so they do not
 * send the same request twice more (and the gateway's own failover has tried the alternatives).
 */
const NO_RETRY: Readonly<Record<string, string>> = { 'x-should-retry': 'false' };

/** What a client is told about an upstream failure of each class: never the upstream's own message. */
const GENERIC_FAILURE: Partial<Record<ProviderError['errorClass'], string>> = {
  server_error: 'failed with a server error',
  network: 'could not be reached or cut its answer off',
  bad_response: 'sent a malformed response',
  stream_error: 'reported an error inside the stream',
  response_too_large: 'sent a response over the gateway\'s size limit',
};

/** The first ProviderError in a chain of causes (a few links at most). */
function providerErrorIn(err: unknown): ProviderError | undefined {
  for (let e = err, i = 0; e !== undefined && e !== null && i < 5; e = (e as { cause?: unknown }).cause, i++) if (e instanceof ProviderError) return e;
  return undefined;
}

function poolErrorReply(err: PoolError): ErrorReply {
  if (err instanceof AcquireTimeoutError || err instanceof TooManyWaitersError) {
    return withRetry(503, errorBody(err.message, 'service_unavailable_error', err instanceof AcquireTimeoutError ? 'pool_exhausted' : 'pool_busy'), 1000);
  }
  if (err instanceof PoolClosedError) return toErrorReply(shuttingDown());
  if (err instanceof AcquireAbortedError) return clientClosed(err.message);
  // The create's own error (an address, the provider's words) goes to the log line, not to the client:
  // only the kind of an upstream's refusal (`401 auth`), which tells a refused key from an outage.
  if (err instanceof CreateFailedError) {
    const upstream = providerErrorIn(err.cause);
    const why = upstream === undefined ? '' : ` (its new adapters fail their health check: ${upstream.status} ${upstream.errorClass})`;
    return withRetry(503, errorBody(`Could not make an adapter for deployment ${err.key}${why}; the details are in the gateway's log.`, 'service_unavailable_error', 'adapter_unavailable'), 1000);
  }
  return withRetry(503, errorBody(err.message, 'service_unavailable_error', 'pool_error'), 1000);
}

/**
 * A hang-up, whenever it came (waiting for an adapter, for the upstream, or during a stream): one
 * code, `client_closed`, in the log line, the metrics and the ledger. Nobody reads the body.
 */
function clientClosed(message: string): ErrorReply {
  return { status: CLIENT_CLOSED, body: errorBody(message, 'invalid_request_error', 'client_closed') };
}

function withRetry(status: number, body: OpenAIErrorBody, retryAfterMs: number | undefined): ErrorReply {
  if (status !== 503 && status !== 429) return { status, body };
  return { status, body, retryAfterSeconds: Math.max(1, Math.ceil((retryAfterMs ?? 1000) / 1000)) };
}

interface AjvError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: { missingProperty?: string };
  schemaPath?: string;
  /** With ajv's `verbose`: the schema holding the failed keyword. */
  parentSchema?: { description?: string };
}

/**
 * fastify/ajv validation failure -> 400 naming the field (`messages`, `messages[0].role`). A field of
 * several forms (anyOf) fails with each form's error first (`must be string`): its schema's
 * description, which lists the forms, is the message instead.
 */
function validationReply(errors: AjvError[], context = 'body'): ErrorReply {
  // A field that a block of its type must have (schemas.ts blockFields, an if/then) names itself: the
  // value had the right form, so "must be a string or an array of blocks" would not say what is wrong.
  const blockField = errors.find((e) => e.schemaPath?.includes('/then/') === true);
  const forms = errors.find((e) => e.keyword === 'anyOf' && typeof e.parentSchema?.description === 'string');
  const first = blockField ?? (forms !== undefined ? { ...forms, message: forms.parentSchema!.description } : (errors[0] ?? {}));
  const segments = (first.instancePath ?? '').split('/').filter(Boolean);
  if (first.keyword === 'required' && first.params?.missingProperty) segments.push(first.params.missingProperty);
  const param = segments.reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');
  const message =
    first.keyword === 'required'
      ? `Missing required parameter: '${param}'.`
      : `Invalid value for '${param || context}': ${first.message ?? 'invalid'}.`;
  return { status: 400, body: errorBody(message, 'invalid_request_error', first.keyword === 'required' ? 'missing_required_parameter' : 'invalid_value', param || null) };
}
