import type { Entry, KeyPool, Waiter } from './state.js';
import type { PooledAdapter } from './types.js';

// The pool's timers: waiter deadlines, health-check timeouts and leak detection.

/** Arms the key's one deadline timer for `at` (replacing an earlier one). */
export function armDeadline<A>(kp: KeyPool<A>, at: number, now: number, sweep: (kp: KeyPool<A>) => void): void {
  if (kp.deadlineTimer !== null) clearTimeout(kp.deadlineTimer);
  kp.deadlineAt = at;
  kp.deadlineTimer = setTimeout(() => sweep(kp), Math.max(1, at - now));
}

export function disarmDeadline<A>(kp: KeyPool<A>): void {
  if (kp.deadlineTimer !== null) clearTimeout(kp.deadlineTimer);
  kp.deadlineTimer = null;
  kp.deadlineAt = Infinity;
}

/** Takes every waiter whose deadline passed out of the queue; returns them and the next deadline. */
export function takeExpired<A>(kp: KeyPool<A>, now: number): { expired: Waiter<A>[]; next: number } {
  const expired: Waiter<A>[] = [];
  let next = Infinity;
  let j = 0;
  for (let i = 0; i < kp.waiters.length; i++) {
    const w = kp.waiters[i]!;
    if (w.deadline <= now) expired.push(w);
    else {
      kp.waiters[j++] = w;
      if (w.deadline < next) next = w.deadline;
    }
  }
  kp.waiters.length = j;
  return { expired, next };
}

/** true = healthy. A false result, a rejection or a check slower than `timeoutMs` = unhealthy. */
export async function checkAdapter(adapter: PooledAdapter, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | null = null;
  try {
    const outcome = await Promise.race([
      Promise.resolve().then(() => adapter.healthCheck()),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    return outcome !== false;
  } catch {
    return false;
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

/** Calls `onLeak` if `e` is still held after `ms`; the stack says where it was acquired. */
export function armLeakTimer<A>(e: Entry<A>, ms: number, onLeak: (heldMs: number, stack: string) => void): void {
  const stack = new Error('adapter acquired here').stack ?? '';
  const heldSince = Date.now();
  if (e.leakTimer !== null) clearTimeout(e.leakTimer);
  e.leakTimer = setTimeout(() => {
    e.leakTimer = null;
    onLeak(Date.now() - heldSince, stack);
  }, ms);
  e.leakTimer.unref();
}

/**
 * Calls `create` with a deadline. A create slower than `timeoutMs` rejects (freeing its slot); what
 * it makes later is handed to `onLate`, which closes it. The caller checks what it resolves to.
 */
export function createWithTimeout<A extends PooledAdapter>(create: () => Promise<A>, timeoutMs: number, onLate: (adapter: A) => void): Promise<A> {
  let timedOut = false;
  let timer: NodeJS.Timeout | null = null;
  const attempt = (async () => {
    const adapter = await create();
    if (adapter === null || typeof adapter !== 'object' || typeof adapter.close !== 'function') {
      throw new TypeError('createAdapter resolved to something that is not an adapter');
    }
    return adapter;
  })();
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new Error(`createAdapter did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
  });
  attempt.then(
    (adapter) => {
      if (timedOut) onLate(adapter);
    },
    () => {},
  );
  return Promise.race([attempt, deadline]).finally(() => {
    if (timer !== null) clearTimeout(timer);
  });
}
