import { KeyRemovedError } from './errors.js';
import type { PoolHost } from './host.js';
import { lifetimeEnd, liveCount, type KeyPool } from './state.js';
import type { PoolLimits, PooledAdapter } from './types.js';
import { rejectAll } from './waiters.js';

// Live changes to one key (live config: a deployment removed, resized or given new settings). Like
// housekeeping, these decide which adapter goes where and leave the moving to the pool's transitions.

/**
 * Starts removing a key: its waiters are rejected with KeyRemovedError, it lends nothing more, idle
 * and unhealthy adapters close now and lent ones when they come back. The promise resolves once
 * every adapter is closed.
 */
export function drainKey<A extends PooledAdapter>(host: PoolHost<A>, kp: KeyPool<A>): Promise<void> {
  if (kp.drain !== null) return kp.drain.done;
  let resolve!: () => void;
  const done = new Promise<void>((r) => (resolve = r));
  kp.drain = { done, resolve };
  host.log.info?.({ event: 'pool_key_removing', key: kp.key, inUse: kp.inUse }, `🗑️ 移除适配器池: ${kp.key} (等待 ${kp.inUse} 个使用中的适配器归还)`);
  if (kp.retryTimer !== null) clearTimeout(kp.retryTimer);
  kp.retryTimer = null;
  rejectAll(kp, new KeyRemovedError(kp.key));
  for (const e of [...kp.idle]) host.destroy(e, 'removed');
  for (const e of [...kp.entries]) if (e.state === 'unhealthy') host.destroy(e, 'removed');
  host.drained(kp);
  return done;
}

/**
 * Gives a key new limits, live. A smaller maxPoolSize closes idle (then unhealthy) adapters at once
 * and lent ones as they come back, never one in use; a larger minPoolSize creates the difference.
 */
export function resizeKey<A extends PooledAdapter>(host: PoolHost<A>, kp: KeyPool<A>, next: PoolLimits): void {
  // A new lifetime counts for the adapters already there too (cleanup retires the ones now past it).
  if (next.maxLifetimeMs !== kp.limits.maxLifetimeMs) for (const e of kp.entries) e.expiresAt = lifetimeEnd(e.createdAt, next.maxLifetimeMs);
  kp.limits = next;
  kp.view.maxPoolSize = next.maxPoolSize;
  while (liveCount(kp) > next.maxPoolSize && kp.idle.length > 0) host.destroy(kp.idle[0]!, 'resized');
  for (const e of [...kp.entries]) {
    if (liveCount(kp) <= next.maxPoolSize) break;
    if (e.state === 'unhealthy') host.destroy(e, 'resized');
  }
  host.dispatch(kp);
}

/**
 * Replaces every adapter of a key: idle and unhealthy ones close now, lent ones (and ones being
 * checked) when they come back, a create under way is closed on arrival (its generation is stale).
 */
export function renewAdapters<A extends PooledAdapter>(host: PoolHost<A>, kp: KeyPool<A>): void {
  kp.generation++;
  for (const e of [...kp.entries]) {
    if (e.state === 'idle' || e.state === 'unhealthy') host.destroy(e, 'renewed');
    else if (e.state !== 'closing') e.retire = 'renewed';
  }
  host.log.info?.({ event: 'pool_key_renewed', key: kp.key }, `🔄 适配器池更新: ${kp.key} (新适配器使用新的设置)`);
  host.dispatch(kp);
}
