import type { ClientKey } from '../config/index.js';
import type { ChatCompletionRequest } from '../providers/types.js';
import { isLimited, reservationTokens, type Admission, type Limiter, type LimitStatus, type Reservation } from '../routing/index.js';
import { rateLimited } from './errors.js';

/**
 * Per-key limits at the door of the model routes (chat completions, messages, embeddings): admits a
 * request against its key's rpm / tpm / maxConcurrent (reserving prompt estimate + max tokens),
 * builds OpenAI's `x-ratelimit-*` headers, and turns a refusal into a 429.
 */

export interface KeyLimitsOptions {
  limiter: Limiter;
  /** Completion tokens reserved when the request sets no max (config `limits.defaultMaxTokens`). */
  defaultMaxTokens: number;
  /** A key was refused (metrics). */
  onLimited?: (key: ClientKey, reason: Extract<Admission, { ok: false }>['reason']) => void;
}

/** An admitted request of a limited key: its reservation and the headers every response of it carries. */
export interface KeyAdmission {
  readonly reservation: Reservation;
  readonly headers: Readonly<Record<string, string>>;
}

export class KeyLimits {
  constructor(private readonly opts: KeyLimitsOptions) {}

  /**
   * Admit a request of `key`; undefined for keys without limits. Throws the 429 when over a limit.
   * The tokens reserved are estimated from a chat request, or given (e.g. an embeddings input's size).
   */
  async admit(key: ClientKey | undefined, request: ChatCompletionRequest | number): Promise<KeyAdmission | undefined> {
    if (key === undefined || !isLimited(key)) return undefined;
    const tokens = key.tpm === undefined ? 0 : typeof request === 'number' ? request : reservationTokens(request, this.opts.defaultMaxTokens);
    const a = await this.opts.limiter.admit(subjectOf(key), key, tokens);
    if (a.ok) return { reservation: a.reservation, headers: rateLimitHeaders(a.reservation.status) };
    this.opts.onLimited?.(key, a.reason);
    const seconds = Math.max(1, Math.ceil(a.retryAfterMs / 1000));
    const what =
      a.reason === 'requests'
        ? `requests per minute (RPM): limit ${key.rpm}`
        : a.reason === 'tokens'
          ? `tokens per minute (TPM): limit ${key.tpm}, requested ${tokens}${tokens > key.tpm! ? ' (more than the whole limit: counted as the limit, so it is admitted only while the minute\'s tokens are unused; lower max_tokens)' : ''}`
          : `concurrent requests: limit ${key.maxConcurrent}`;
    throw rateLimited(`Rate limit reached for key ${key.name ?? '(unnamed)'} on ${what}. Please try again in ${seconds}s.`, a.reason === 'tokens' ? 'tokens' : 'requests', a.retryAfterMs, rateLimitHeaders(a.status));
  }

  /** The headers of a limited key's response that did not go through `admit` (e.g. `/v1/models`). */
  async headers(key: ClientKey | undefined): Promise<Record<string, string> | undefined> {
    if (key === undefined || (key.rpm === undefined && key.tpm === undefined)) return undefined;
    return rateLimitHeaders(await this.opts.limiter.peek(subjectOf(key), key));
  }
}

/** The limiter subject of a key (names are unique in the config). */
function subjectOf(key: ClientKey): string {
  return `key:${key.name ?? key.digest.toString('hex')}`;
}

/** OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, for the limits that are set. */
export function rateLimitHeaders(s: LimitStatus): Record<string, string> {
  const h: Record<string, string> = {};
  if (s.requests !== undefined) {
    h['x-ratelimit-limit-requests'] = String(s.requests.limit);
    h['x-ratelimit-remaining-requests'] = String(s.requests.remaining);
    h['x-ratelimit-reset-requests'] = formatReset(s.requests.resetMs);
  }
  if (s.tokens !== undefined) {
    h['x-ratelimit-limit-tokens'] = String(s.tokens.limit);
    h['x-ratelimit-remaining-tokens'] = String(s.tokens.remaining);
    h['x-ratelimit-reset-tokens'] = formatReset(s.tokens.resetMs);
  }
  return h;
}

/** OpenAI's reset format: `120ms`, `1s`, `6m0s`, `1m30.5s`. */
export function formatReset(ms: number): string {
  const v = Math.max(0, Math.round(ms));
  if (v < 1000) return `${v}ms`;
  const minutes = Math.floor(v / 60_000);
  const seconds = (v % 60_000) / 1000;
  const sec = `${Number(seconds.toFixed(3))}s`;
  return minutes > 0 ? `${minutes}m${sec}` : sec;
}
