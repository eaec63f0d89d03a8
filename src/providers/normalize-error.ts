import { ProviderError, type ErrorClass } from './errors.js';
import { SecretScrubber } from './scrub.js';

/** Response headers as undici (`IncomingHttpHeaders`) or fetch (`Headers`) give them. */
export type HeaderBag = Headers | Record<string, string | string[] | undefined> | undefined;

/** What we managed to read out of an upstream error body, whatever its shape. */
interface ParsedError {
  message: string | undefined;
  /** The message is a whole structure as text (FastAPI's `detail` list): cut to `MESSAGE_CAP`. */
  long?: boolean;
  type: string | undefined;
  code: string | number | null;
  param: string | null;
}

/** Characters kept of an upstream error text that is not a message (a plain or HTML body, a `detail` list). */
const MESSAGE_CAP = 500;

export interface NormalizeOptions {
  /** The provider's scrubber: its secrets leave the upstream's message, type, code and param. */
  scrubber?: SecretScrubber;
  /** Secrets (the provider key) to scrub, when no scrubber is given. */
  secrets?: readonly (string | undefined)[];
}

/**
 * Any provider's error response -> one `ProviderError` with an OpenAI-shaped body and the class the
 * router acts on (`ERROR_ACTIONS` in errors.ts).
 */
export function normalizeProviderError(
  provider: string,
  status: number,
  bodyText: string,
  headers?: HeaderBag,
  options?: NormalizeOptions,
): ProviderError {
  const parsed = parseErrorBody(bodyText);
  const errorClass = classifyError(status, parsed);
  // Classified on the upstream's words, then scrubbed: type, code and param reach the client too.
  const scrubber = options?.scrubber ?? (options?.secrets ? new SecretScrubber([], options.secrets) : SecretScrubber.none);
  // A long text is cut after it is scrubbed: cut first, a secret across the cut kept a part the scrubber did not know.
  const message =
    parsed.message !== undefined
      ? parsed.long === true
        ? truncate(scrubber.text(parsed.message), MESSAGE_CAP)
        : scrubber.text(parsed.message)
      : bodyText.trim()
        ? truncate(scrubber.text(bodyText.trim()), MESSAGE_CAP)
        : `upstream returned HTTP ${status}`;
  return new ProviderError({
    provider,
    status,
    errorClass,
    message,
    type: parsed.type === undefined ? undefined : scrubber.text(parsed.type),
    code: scrubber.field(parsed.code),
    param: scrubber.field(parsed.param),
    retryAfterMs: parseRetryAfter(headers),
  });
}

// --- body shapes --------------------------------------------------------------------------------

function parseErrorBody(text: string): ParsedError {
  const empty: ParsedError = { message: undefined, type: undefined, code: null, param: null };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return empty;
  }
  // Gemini's OpenAI endpoint answers with an array: [{"error":{...}}]
  if (Array.isArray(json)) json = json[0];
  if (!isRecord(json)) return empty;

  const err = json.error;
  // OpenAI, Ark, Zhipu, Gemini, DeepSeek, Moonshot, Azure: {"error":{message,type,code,param}}
  // Anthropic: {"type":"error","error":{"type","message"}}
  if (isRecord(err)) {
    return {
      message: str(err.message) ?? str(json.message),
      type: str(err.type) ?? str(err.status),
      code: codeOf(err.code) ?? codeOf(err.status),
      param: str(err.param) || null,
    };
  }
  // Ollama and friends: {"error":"model not found"}
  if (typeof err === 'string') return { message: err, type: str(json.type), code: codeOf(json.code), param: null };
  // SiliconFlow {code,message,data}; DashScope native {code:"Arrearage",message,request_id}
  if (json.message !== undefined || json.code !== undefined) {
    return { message: str(json.message) ?? str(json.msg), type: str(json.type), code: codeOf(json.code), param: null };
  }
  // FastAPI (vLLM) validation errors: {"detail":[...]}
  if (json.detail !== undefined) {
    return typeof json.detail === 'string'
      ? { message: json.detail, type: undefined, code: null, param: null }
      : { message: JSON.stringify(json.detail), long: true, type: undefined, code: null, param: null };
  }
  return empty;
}

// --- classification -----------------------------------------------------------------------------

/** Business codes that mean "no money" whatever the HTTP status (Ark, OpenAI, DashScope, Zhipu). */
const QUOTA_CODES = new Set(['insufficient_quota', 'accountoverdueerror', 'arrearage', '1113', 'billing_hard_limit_reached', 'exceeded_current_quota_error']);
/** Also Anthropic's 400 "Your credit balance is too low to access the Anthropic API". */
const QUOTA_MESSAGE = /insufficient[ _](quota|balance)|arrear|credit balance is too low|欠费|余额不足/i;
/** Gemini refuses a bad key with 400 INVALID_ARGUMENT ("API key not valid", reason API_KEY_INVALID). */
const AUTH_MESSAGE = /api key not valid|api_key_invalid/i;
/** Content moderation: the caller's content, never retried (Ark risk detection, Kimi, Zhipu 1301). */
const CONTENT_FILTER = /riskdetection|content_filter|sensitivecontent|data_inspection_failed/i;

/** Zhipu's business codes (docs.bigmodel.cn api-code); its HTTP 429 means rate limit *or* arrears. */
const ZHIPU_CODES: Readonly<Record<string, ErrorClass>> = {
  '1000': 'auth',
  '1001': 'auth',
  '1002': 'auth',
  '1003': 'auth',
  '1004': 'auth',
  '1113': 'quota',
  '1211': 'not_found',
  '1301': 'client_error',
  '1302': 'rate_limited',
  '1303': 'rate_limited',
  // Overloaded: README's "upstream overloaded", 503 with Retry-After (the HTTP status is 429).
  '1305': 'temporarily_unavailable',
  '1312': 'temporarily_unavailable',
};

/** SiliconFlow's business codes (docs.siliconflow.cn error codes), sent with HTTP 400. */
const SILICONFLOW_CODES: Readonly<Record<string, ErrorClass>> = {
  '20012': 'not_found', // "Model does not exist"
};

export function classifyError(status: number, parsed: Pick<ParsedError, 'message' | 'type' | 'code'>): ErrorClass {
  const code = parsed.code === null ? '' : String(parsed.code);
  const codeLc = code.toLowerCase();
  const type = (parsed.type ?? '').toLowerCase();
  const message = parsed.message ?? '';

  if (QUOTA_CODES.has(codeLc) || QUOTA_CODES.has(type) || status === 402 || QUOTA_MESSAGE.test(message)) return 'quota';
  if (CONTENT_FILTER.test(code) || CONTENT_FILTER.test(type)) return 'client_error';
  if (codeLc.includes('closedendpoint')) return 'temporarily_unavailable';
  const business = ZHIPU_CODES[code] ?? SILICONFLOW_CODES[code];
  if (business) return business;
  if (status === 400 && (AUTH_MESSAGE.test(message) || AUTH_MESSAGE.test(code))) return 'auth';
  if (type === 'overloaded_error') return 'server_error';

  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (status === 408) return 'timeout';
  if (status === 409) return 'temporarily_unavailable';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'client_error';
  // An error object inside a 2xx body: the upstream failed without saying how.
  return 'bad_response';
}

// --- Retry-After --------------------------------------------------------------------------------

/** `retry-after-ms`, `x-ms-retry-after-ms` (Azure), then `retry-after` in seconds or as an HTTP date. */
export function parseRetryAfter(headers: HeaderBag, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  for (const name of ['retry-after-ms', 'x-ms-retry-after-ms']) {
    const ms = Number(header(headers, name));
    if (header(headers, name) !== undefined && Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  }
  const value = header(headers, 'retry-after');
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.round(seconds * 1000) : undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function header(headers: Exclude<HeaderBag, undefined>, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const v = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? v[0] : v;
}

// --- helpers ------------------------------------------------------------------------------------

/** Replace every occurrence of a secret (and of a long enough suffix some providers echo) with `***`. */
export function redact(text: string, secrets: readonly (string | undefined)[] | undefined): string {
  if (!secrets) return text;
  let out = text;
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    out = out.split(s).join('***');
    // OpenAI echoes "Incorrect API key provided: sk-abc***...wxyz": scrub the visible head and tail too.
    if (s.length >= 12) {
      out = out.split(s.slice(0, 8)).join('***').split(s.slice(-6)).join('***');
    }
  }
  return out;
}

/** A plain JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function codeOf(v: unknown): string | number | null {
  return typeof v === 'string' || typeof v === 'number' ? v : null;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
