import { expiry, liveCount, type KeyPool } from './state.js';
import type { AdapterDetail, KeyState, PoolStats, PoolStatsEntry, PoolStatus } from './types.js';

// What the pool reports about itself: plain numbers (ratios 0..1). Formatting for people (the
// percentages of `/v1/pool/*`) is the server's job.

function keyStats<A>(kp: KeyPool<A>, now: number): PoolStatsEntry {
  let unhealthy = 0;
  let checking = 0;
  let expired = 0;
  for (const e of kp.entries) {
    if (e.state === 'unhealthy') unhealthy++;
    else if (e.state === 'checking') checking++;
    if (e.state !== 'closing' && (e.retire !== null || expiry(e, now) !== null)) expired++;
  }
  const total = liveCount(kp);
  return {
    model: kp.keyObj.model,
    provider: kp.keyObj.provider,
    total,
    available: kp.idle.length,
    in_use: kp.inUse,
    unhealthy,
    expired,
    max_pool_size: kp.limits.maxPoolSize,
    min_pool_size: kp.limits.minPoolSize,
    checking,
    creating: kp.creating,
    closing: kp.closing,
    waiting: kp.waiters.length,
    create_failures: kp.createFailures,
    utilization: ratio(kp.inUse, total, 0),
    health: ratio(total - unhealthy, total + lacking(total, kp.limits.minPoolSize, kp.createFailures), 1),
  };
}

/**
 * Adapters a pool whose creates fail lacks to its minimum (at least one): they count as unhealthy in
 * its health and the gateway's, so a dead deployment lowers `health_rate` beside healthy ones (an
 * empty pool is healthy otherwise).
 */
function lacking(total: number, minPoolSize: number, createFailures: number): number {
  return createFailures > 0 ? Math.max(0, Math.max(1, minPoolSize) - total) : 0;
}

export function poolStats<A>(pools: readonly KeyPool<A>[]): PoolStats {
  const now = Date.now();
  const out: Record<string, PoolStatsEntry> = {};
  for (const kp of pools) out[kp.key] = keyStats(kp, now);
  return { total_pools: pools.length, pools: out };
}

export function poolStatus<A>(pools: readonly KeyPool<A>[], maxTotal: number): PoolStatus {
  const now = Date.now();
  return { ...statusOf(pools.map((kp) => keyStats(kp, now))), max_total: maxTotal === Infinity ? null : maxTotal };
}

/** The status totals of some pools' stats (also what the cluster's fleet view sums replicas with). */
export function statusOf(entries: readonly PoolStatsEntry[]): Omit<PoolStatus, 'max_total'> {
  let total = 0;
  let available = 0;
  let inUse = 0;
  let unhealthy = 0;
  let checking = 0;
  let waiting = 0;
  let lack = 0;
  for (const s of entries) {
    lack += lacking(s.total, s.min_pool_size, s.create_failures);
    total += s.total;
    available += s.available;
    inUse += s.in_use;
    unhealthy += s.unhealthy;
    checking += s.checking;
    waiting += s.waiting;
  }
  return {
    total_pools: entries.length,
    total_adapters: total,
    available_adapters: available,
    in_use_adapters: inUse,
    unhealthy_adapters: unhealthy,
    checking_adapters: checking,
    utilization: ratio(inUse, total, 0),
    health: ratio(total - unhealthy, total + lack, 1),
    waiting,
  };
}

/** One row per adapter of a key, with the adapter itself (its owner reads its own counters). */
export function keyDetails<A>(kp: KeyPool<A> | undefined): Array<AdapterDetail & { adapter: A }> {
  if (kp === undefined) return [];
  const now = Date.now();
  return kp.entries
    .filter((e) => e.state !== 'closing')
    .map((e) => ({
      adapter: e.adapter,
      id: e.id,
      state: e.state,
      use_count: e.useCount,
      created_at: e.createdAt,
      last_used_at: e.lastUsedAt === 0 ? null : e.lastUsedAt,
      expired: expiry(e, now) !== null,
    }));
}

function ratio(part: number, whole: number, empty: number): number {
  return whole === 0 ? empty : part / whole;
}

/** The key's live view, refreshed in place (one object per key: the router reads it on every request). */
export function keyView<A>(kp: KeyPool<A>): KeyState {
  const v = kp.view;
  v.total = kp.entries.length - kp.closing;
  v.available = kp.idle.length;
  v.inUse = kp.inUse;
  v.unhealthy = kp.unhealthy;
  v.creating = kp.creating;
  v.waiting = kp.waiters.length;
  return v;
}
