import type { RandomSource } from './strategies/types.js';

export type JitterMode = 'full' | 'decorrelated';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  jitter: JitterMode;
  /** Longest upstream Retry-After we wait for; a longer one means: do not retry here, fail over. */
  maxRetryAfterMs: number;
}

/**
 * Delay before retry number `retry` (1 = the first retry) on the same deployment.
 * - full: uniform in [0, min(max, initial * 2^(retry-1))]  (AWS "full jitter")
 * - decorrelated: uniform in [initial, min(max, previous * 3)]  (AWS "decorrelated jitter")
 */
export function backoffDelay(retry: number, previousMs: number, opts: BackoffOptions, random: RandomSource = Math.random): number {
  const { initialMs, maxMs } = opts;
  if (opts.jitter === 'decorrelated') {
    const hi = Math.min(maxMs, Math.max(initialMs, previousMs * 3));
    return Math.min(maxMs, initialMs + random() * (hi - initialMs));
  }
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, retry - 1));
  return random() * ceiling;
}

/**
 * Delay before retrying after an error: the upstream's Retry-After (plus up to 10% jitter, so a
 * crowd of clients does not come back in the same millisecond) when it gave one, else the backoff.
 * `undefined` when Retry-After exceeds `maxRetryAfterMs`: fail over instead of waiting.
 */
export function retryDelay(
  retry: number,
  previousMs: number,
  retryAfterMs: number | undefined,
  opts: BackoffOptions,
  random: RandomSource = Math.random,
): number | undefined {
  if (retryAfterMs !== undefined && retryAfterMs > 0) {
    if (retryAfterMs > opts.maxRetryAfterMs) return undefined;
    return Math.min(opts.maxRetryAfterMs, retryAfterMs + random() * retryAfterMs * 0.1);
  }
  return backoffDelay(retry, previousMs, opts, random);
}
