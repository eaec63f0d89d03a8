import type { AdapterCounters } from './types.js';
import type { ProviderError } from './errors.js';
import { LATENCY_BUCKETS, latencyBucket, latencyQuantile } from './latency.js';

/**
 * Per-adapter request counters. A caller hanging up is not the adapter's fault: it is counted apart
 * (`aborted`) and stays out of the success rate and the latency mean.
 */
export class RequestCounters {
  private requests = 0;
  private successes = 0;
  private failures = 0;
  private aborted = 0;
  private inFlight = 0;
  private latencySum = 0;
  /** Finished calls by latency bucket: p50/p95 for the dashboard (a mean hides the slow tail). */
  private readonly latency = new Uint32Array(LATENCY_BUCKETS);

  /** Returns the start time to pass back to `succeed`/`fail`. */
  start(): number {
    this.requests++;
    this.inFlight++;
    return performance.now();
  }

  /** The call failed in our own process before anything was sent: it is not counted at all. */
  unsent(): void {
    this.requests--;
    this.inFlight--;
  }

  succeed(startedAt: number): void {
    this.inFlight--;
    this.successes++;
    const ms = performance.now() - startedAt;
    this.latencySum += ms;
    this.latency[latencyBucket(ms)]!++;
  }

  fail(startedAt: number, err: ProviderError): void {
    this.inFlight--;
    if (err.errorClass === 'aborted') {
      this.aborted++;
      return;
    }
    this.failures++;
    const ms = performance.now() - startedAt;
    this.latencySum += ms;
    this.latency[latencyBucket(ms)]!++;
  }

  snapshot(): AdapterCounters {
    const finished = this.successes + this.failures;
    return {
      requests: this.requests,
      successes: this.successes,
      failures: this.failures,
      aborted: this.aborted,
      mean_latency_ms: finished === 0 ? 0 : Math.round((this.latencySum / finished) * 1000) / 1000,
      success_rate: finished === 0 ? 1 : this.successes / finished,
      in_flight: this.inFlight,
      latency_p50_ms: latencyQuantile(this.latency, 0.5),
      latency_p95_ms: latencyQuantile(this.latency, 0.95),
    };
  }
}
