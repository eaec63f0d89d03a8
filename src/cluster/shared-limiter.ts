import { RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import { FlexibleLimiter, MemoryConcurrency, type ConcurrencyStore, type CounterOptions } from '../routing/limits/index.js';
import type { RedisLink } from './redis-link.js';

export interface SharedLimiterOptions {
  link: RedisLink;
  /** Live replicas (this one included), from the fleet view; at least 1. */
  liveReplicas: () => number;
  /** Window length (production: a minute). */
  windowMs?: number;
}

/**
 * The keys' and deployments' limiter shared by every replica: the same `FlexibleLimiter` (and so the
 * same algorithm, rate-limiter-flexible's fixed window) with its counters in Redis. RateLimiterRedis
 * counts with one Lua script per consume (EVALSHA, reloaded by itself after a Redis restart) whose
 * window is a Redis TTL, so replicas' clocks do not matter. When Redis is away or slower than the
 * command timeout, each counter falls back to its insurance limiter: an in-memory one with
 * `limit ÷ live replicas` points, so the fleet as a whole stays near the limit.
 *
 * In-flight counts (`maxConcurrent`) stay local, each replica holding `⌈max ÷ live replicas⌉`: a
 * shared in-flight count would cost a round trip at the end of every request and leak on a crash.
 */
export class SharedLimiter extends FlexibleLimiter {
  private readonly redisCounters: Array<{ counter: Insured; o: CounterOptions }>;
  private replicas: number;
  private readonly shared: SharedLimiterOptions;

  constructor(shared: SharedLimiterOptions) {
    super({
      ...(shared.windowMs === undefined ? {} : { windowMs: shared.windowMs }),
      concurrency: new FleetShareConcurrency(() => this.replicas),
      createCounter: (o) => {
        const counter = new RateLimiterRedis({
          storeClient: shared.link.client,
          // Not connected: go to the insurance limiter at once instead of waiting on a command.
          rejectIfRedisNotReady: true,
          keyPrefix: shared.link.key('rl', o.keyPrefix),
          points: o.points,
          duration: o.duration,
          insuranceLimiter: this.insurance(o),
        });
        this.redisCounters.push({ counter: counter as Insured, o });
        return counter;
      },
    });
    this.shared = shared;
    this.redisCounters = [];
    this.replicas = Math.max(1, shared.liveReplicas());
  }

  /** The replica count the local shares divide by. */
  get liveReplicas(): number {
    return this.replicas;
  }

  /** The fleet grew or shrank: local fallbacks take the new share. Called by the fleet view. */
  refreshReplicas(): void {
    const n = Math.max(1, this.shared.liveReplicas());
    if (n === this.replicas) return;
    this.replicas = n;
    for (const { counter, o } of this.redisCounters) counter.insuranceLimiter = this.insurance(o);
  }

  private insurance(o: CounterOptions): RateLimiterMemory {
    return new RateLimiterMemory({ points: Math.max(1, Math.floor(o.points / this.replicas)), duration: o.duration, keyPrefix: `${o.keyPrefix}-local` });
  }
}

/** RateLimiterRedis's insurance limiter is a settable property the typings leave out. */
type Insured = RateLimiterRedis & { insuranceLimiter: RateLimiterMemory };

/** `maxConcurrent` split over the fleet: this replica holds its share of the slots. */
class FleetShareConcurrency implements ConcurrencyStore {
  private readonly local = new MemoryConcurrency();
  constructor(private readonly replicas: () => number) {}

  tryAcquire(subject: string, max: number): boolean {
    return this.local.tryAcquire(subject, Math.max(1, Math.ceil(max / this.replicas())));
  }

  release(subject: string): void {
    this.local.release(subject);
  }
}
