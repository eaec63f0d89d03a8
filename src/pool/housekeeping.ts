import { expiry, liveCount, type Entry, type KeyPool } from './state.js';
import { checkAdapter } from './timers.js';
import type { CleanupResult, DestroyReason, HealthCheckResult, PooledAdapter } from './types.js';

/**
 * The state transitions housekeeping may ask of the pool. The pool owns its state machine; these
 * passes only decide which adapter goes where.
 */
export interface HousekeepingHost<A extends PooledAdapter> {
  readonly pools: readonly KeyPool<A>[];
  readonly healthCheckTimeoutMs: number;
  readonly maxFailedHealthChecks: number;
  destroy(e: Entry<A>, reason: DestroyReason): void;
  /** idle|unhealthy -> checking; returns whether it was unhealthy. */
  beginCheck(e: Entry<A>): boolean;
  /** checking -> idle (logs and emits a recovery when it was unhealthy). */
  passCheck(e: Entry<A>, wasUnhealthy: boolean): void;
  /** checking -> unhealthy. */
  markUnhealthy(e: Entry<A>, error: unknown, quiet: boolean): void;
  dispatch(kp: KeyPool<A>): void;
}

/**
 * Removes expired (uses, idle, lifetime) and unhealthy idle adapters, marks expired in-use ones to
 * retire on release, and tops every key back up to its minimum (`created` stays 0 here:
 * `AdapterPool.cleanup` counts the adapters those creates made once they are settled).
 */
export function cleanupPass<A extends PooledAdapter>(host: HousekeepingHost<A>, now: number): CleanupResult {
  const result: CleanupResult = { removed: 0, expired: 0, unhealthy: 0, created: 0, pools: {} };
  for (const kp of host.pools) {
    let removed = 0;
    // Oldest idle first (bottom of the stack), and never below the minimum for idleness alone.
    for (let i = 0; i < kp.idle.length; ) {
      const e = kp.idle[i]!;
      let reason = expiry(e, now);
      if (reason === null && now - (e.lastUsedAt || e.createdAt) > kp.limits.idleTimeoutMs && liveCount(kp) > kp.limits.minPoolSize) {
        reason = 'expired_idle';
      }
      if (reason === null) {
        i++;
        continue;
      }
      kp.idle.splice(i, 1);
      host.destroy(e, reason);
      removed++;
      result.expired++;
    }
    for (const e of kp.entries) {
      if (e.state === 'unhealthy') {
        kp.suspect = true;
        host.destroy(e, 'unhealthy');
        removed++;
        result.unhealthy++;
      } else if (e.state === 'in_use' && e.retire === null) {
        e.retire = expiry(e, now);
      }
    }
    host.dispatch(kp);
    result.removed += removed;
    result.pools[kp.key] = { removed, created: 0 };
  }
  return result;
}

/**
 * Checks every idle and unhealthy adapter (never one in use): failures are marked unhealthy and not
 * lent, unhealthy ones that pass are put back, ones that keep failing are replaced.
 */
export async function healthCheckPass<A extends PooledAdapter>(host: HousekeepingHost<A>): Promise<HealthCheckResult> {
  const result: HealthCheckResult = { checked: 0, healthy: 0, unhealthy: 0, recovered: 0, replaced: 0, skipped_in_use: 0, pools: {} };
  const jobs: Promise<void>[] = [];
  for (const kp of host.pools) {
    const row = { checked: 0, healthy: 0, unhealthy: 0, recovered: 0 };
    result.pools[kp.key] = row;
    for (const e of [...kp.entries]) {
      if (e.state === 'in_use') {
        result.skipped_in_use++;
        continue;
      }
      if (e.state !== 'idle' && e.state !== 'unhealthy') continue;
      const wasUnhealthy = host.beginCheck(e);
      row.checked++;
      result.checked++;
      jobs.push(
        checkAdapter(e.adapter, host.healthCheckTimeoutMs).then((failure) => {
          if (e.state !== 'checking') return; // closed meanwhile
          if (kp.drain !== null) {
            host.destroy(e, 'removed');
            return;
          }
          if (failure === undefined) {
            row.healthy++;
            result.healthy++;
            if (wasUnhealthy) {
              row.recovered++;
              result.recovered++;
            }
            host.passCheck(e, wasUnhealthy);
          } else {
            row.unhealthy++;
            result.unhealthy++;
            e.failedChecks++;
            if (e.failedChecks >= host.maxFailedHealthChecks) {
              result.replaced++;
              kp.suspect = true;
              host.destroy(e, 'unhealthy');
            } else {
              host.markUnhealthy(e, failure, wasUnhealthy);
            }
          }
          host.dispatch(kp);
        }),
      );
    }
  }
  await Promise.all(jobs);
  return result;
}
