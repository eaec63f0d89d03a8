import type { KeyPool, Waiter } from './state.js';

// The waiter queue's mechanics: one deadline timer per key, and a waiter's exit from the queue.
// Who is served, rejected or timed out, and why, stays with the pool (AdapterPool.ts).

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
  let next = Infinity;
  const expired = kp.waiters.partition((w) => {
    if (w.deadline <= now) return false;
    if (w.deadline < next) next = w.deadline;
    return true;
  });
  return { expired, next };
}

/** A waiter left the queue (served, expired, aborted, rejected): its abort listener goes, and the key's timer when nobody waits. */
export function settleWaiter<A>(w: Waiter<A>): void {
  if (w.onAbort !== null) w.signal!.removeEventListener('abort', w.onAbort);
  w.onAbort = null;
  const kp = w.kp;
  // Nobody left waiting: drop the deadline timer so it cannot keep the process alive.
  if (kp.waiters.length === 0 && kp.deadlineTimer !== null) disarmDeadline(kp);
}

/** Takes `w` out of its key's queue; false if it had already left. */
export function removeWaiter<A>(w: Waiter<A>): boolean {
  if (!w.kp.waiters.remove(w)) return false;
  settleWaiter(w);
  return true;
}

/** Empties the key's queue, rejecting each waiter with `error` (the key removed, the pool closed). */
export function rejectAll<A>(kp: KeyPool<A>, error: Error): void {
  for (const w of kp.waiters.takeAll()) {
    settleWaiter(w);
    w.reject(error);
  }
}
