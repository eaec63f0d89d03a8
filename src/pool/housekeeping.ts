import { expiry, liveCount, type Entry, type KeyPool } from './state.js';
import type { PoolHost } from './host.js';
import { checkAdapter } from './timers.js';
import type { CleanupResult, HealthCheckResult, PooledAdapter } from './types.js';

/**
 * Removes expired (uses, idle, lifetime) and unhealthy idle adapters, marks expired in-use ones to
 * retire on release, and tops every key back up to its minimum (`created` stays 0 here:
 * `AdapterPool.cleanup` counts the adapters those creates made once they are settled).
 */
export function cleanupPass<A extends PooledAdapter>(host: PoolHost<A>, now: number): CleanupResult {
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
  if (result.removed > 0) host.log.info?.({ event: 'pool_cleanup', removed: result.removed }, `🧹 清理了 ${result.removed} 个过期适配器`);
  else host.log.debug?.({ event: 'pool_cleanup', removed: 0 }, '🧹 清理了 0 个过期适配器');
  return result;
}

/** Fills in `created` once the pass's creates settled: adapters made, not creates started (a refused key makes none). */
export function countCreated<A>(result: CleanupResult, pools: readonly KeyPool<A>[], madeBefore: ReadonlyMap<KeyPool<A>, number>): void {
  for (const kp of pools) {
    const made = kp.made - (madeBefore.get(kp) ?? 0);
    const row = result.pools[kp.key];
    if (row !== undefined) row.created = made;
    result.created += made;
  }
}

/**
 * Checks every idle and unhealthy adapter (never one in use): failures are marked unhealthy and not
 * lent, unhealthy ones that pass are put back, ones that keep failing are replaced.
 */
export async function healthCheckPass<A extends PooledAdapter>(host: PoolHost<A>): Promise<HealthCheckResult> {
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
      const wasUnhealthy = beginCheck(e);
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
            passCheck(host, e, wasUnhealthy);
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

/** idle|unhealthy -> checking: out of the lending stack while checked; returns whether it was unhealthy. */
function beginCheck<A extends PooledAdapter>(e: Entry<A>): boolean {
  const kp = e.kp;
  const wasUnhealthy = e.state === 'unhealthy';
  if (wasUnhealthy) kp.unhealthy--;
  else kp.idle.splice(kp.idle.indexOf(e), 1);
  e.state = 'checking';
  return wasUnhealthy;
}

/** checking -> idle, or closed if its key was renewed meanwhile; a recovery is logged and emitted. */
function passCheck<A extends PooledAdapter>(host: PoolHost<A>, e: Entry<A>, wasUnhealthy: boolean): void {
  const kp = e.kp;
  if (e.retire !== null) {
    host.destroy(e, e.retire);
    return;
  }
  e.failedChecks = 0;
  kp.suspect = false;
  if (wasUnhealthy) {
    host.log.info?.({ event: 'adapter_recovered', key: kp.key, adapter: e.id }, `💚 适配器恢复健康: ${kp.key}`);
    host.events.emit('recovered', { key: kp.key, adapter: e.adapter });
  }
  e.state = 'idle';
  kp.idle.push(e);
}
