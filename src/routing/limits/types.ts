/**
 * Rate limits of keys and deployments behind one interface. The gateway uses the in-process
 * implementation (`FlexibleLimiter` over rate-limiter-flexible's memory store); a shared one for
 * several replicas can implement the same interface (e.g. over RateLimiterRedis) without touching
 * the server or the router.
 */

/** Limits of one subject (a client key or a deployment). Absent = unlimited. */
export interface RateLimits {
  /** Requests per window (a minute in production). */
  readonly rpm?: number | undefined;
  /** Prompt + completion tokens per window. */
  readonly tpm?: number | undefined;
  /** Requests in flight at once. */
  readonly maxConcurrent?: number | undefined;
}

/** One counter's state, for OpenAI's `x-ratelimit-*` headers. */
export interface LimitWindow {
  readonly limit: number;
  readonly remaining: number;
  /** Until the window resets (ms). */
  readonly resetMs: number;
}

/** What the `x-ratelimit-*` headers of a limited subject say (each part present when that limit is set). */
export interface LimitStatus {
  readonly requests?: LimitWindow;
  readonly tokens?: LimitWindow;
}

export type LimitReason = 'requests' | 'tokens' | 'concurrency';

/** An admitted request's hold on its subject's limits. */
export interface Reservation {
  /** The limits' state right after admission. */
  readonly status: LimitStatus;
  /** Tokens reserved against `tpm` (0 when the subject has none). */
  readonly reservedTokens: number;
  /**
   * The request ended: replace the reservation with the tokens really used (undefined = unknown,
   * keep the reservation). Frees the concurrency slot. Idempotent: only the first call counts.
   */
  settle(usedTokens: number | undefined): void;
}

export type Admission =
  | { readonly ok: true; readonly reservation: Reservation }
  | {
      readonly ok: false;
      readonly reason: LimitReason;
      /** When a request could pass again (ms). */
      readonly retryAfterMs: number;
      readonly status: LimitStatus;
    };

export interface Limiter {
  /**
   * Admit one request of `subject` (e.g. `key:search-team`, `deployment:gpt-4o:openai`) reserving
   * `tokens` against its `tpm`; nothing is consumed when it is refused.
   */
  admit(subject: string, limits: RateLimits, tokens: number): Promise<Admission>;
  /** The current state without consuming anything (headers on responses that were not admitted through `admit`). */
  peek(subject: string, limits: RateLimits): Promise<LimitStatus>;
  /** Forget every counter (timers, maps). */
  close(): void;
}

/** True when `limits` sets anything. */
export function isLimited(limits: RateLimits | undefined): boolean {
  return limits !== undefined && (limits.rpm !== undefined || limits.tpm !== undefined || limits.maxConcurrent !== undefined);
}
