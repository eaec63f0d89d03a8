/**
 * Latencies in fixed, roughly logarithmic buckets: recording one is a binary search and an
 * increment, merging is adding arrays, and p50/p95 come from the cumulative counts. Precise to
 * the bucket width (about ±25 %), which is what a chart needs; exact quantiles would need every sample.
 */

/** Upper bounds in ms; one more bucket past the last holds everything slower. */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10_000, 15_000, 20_000, 30_000, 60_000,
  120_000, 300_000,
];
/** Buckets per histogram (the bounds plus the overflow bucket). */
export const LATENCY_BUCKETS = LATENCY_BOUNDS_MS.length + 1;

/** Index of the bucket holding `ms` (upper bounds inclusive, like Prometheus' `le`). */
export function latencyBucket(ms: number): number {
  const b = LATENCY_BOUNDS_MS;
  let lo = 0;
  let hi = b.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ms <= b[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The q-quantile (0..1) of the histogram stored at `counts[offset .. offset + LATENCY_BUCKETS)`,
 * interpolated inside its bucket; null when it is empty. The overflow bucket reports the last bound.
 */
export function latencyQuantile(counts: ArrayLike<number>, q: number, offset = 0): number | null {
  let total = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) total += counts[offset + i]!;
  if (total === 0) return null;
  const rank = q * total;
  let acc = 0;
  for (let i = 0; i < LATENCY_BUCKETS; i++) {
    const n = counts[offset + i]!;
    if (n > 0 && acc + n >= rank) {
      if (i >= LATENCY_BOUNDS_MS.length) return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
      const upper = LATENCY_BOUNDS_MS[i]!;
      return round2(lower + ((upper - lower) * (rank - acc)) / n);
    }
    acc += n;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 1]!;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;
