import type { Entry, KeyPool } from './state.js';
import type { PooledAdapter } from './types.js';

// The pool's timers: health-check and create timeouts, create retries, leak detection (waiter deadlines: waiters.ts).

/**
 * undefined = healthy; otherwise why not: the check's own error (a provider's says what to fix, e.g. a
 * refused key), a `false` result, or a check slower than `timeoutMs`.
 */
export async function checkAdapter(adapter: PooledAdapter, timeoutMs: number): Promise<Error | undefined> {
  let timer: NodeJS.Timeout | null = null;
  try {
    const outcome = await Promise.race([
      Promise.resolve().then(() => adapter.healthCheck()),
      new Promise<Error>((resolve) => {
        timer = setTimeout(() => resolve(new Error(`the health check did not answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    if (outcome instanceof Error) return outcome;
    return outcome === false ? new Error('the health check answered unhealthy') : undefined;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
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

/**
 * Arms the key's create retry after its `createFailures`-th failure in a row: exponential backoff
 * through a real timer. Retrying straight from the failure's callback would, with a factory that
 * always fails (upstream down, bad key), loop create -> fail -> create through microtasks without
 * end, the CPU pegged and the event loop starved. One pending retry per key.
 */
export function armCreateRetry<A>(kp: KeyPool<A>, initialMs: number, maxMs: number, retry: (kp: KeyPool<A>) => void): void {
  if (kp.retryTimer !== null) return;
  const delay = Math.min(maxMs, initialMs * 2 ** (kp.createFailures - 1));
  kp.retryTimer = setTimeout(() => {
    kp.retryTimer = null;
    retry(kp);
  }, delay);
  kp.retryTimer.unref();
}

/**
 * `adapter.close()` as a promise that cannot throw synchronously (an adapter whose close throws
 * before returning a promise must not break the pool's bookkeeping around it), failed after
 * `timeoutMs`.
 */
export function closeAdapter(adapter: PooledAdapter, timeoutMs = Infinity): Promise<void> {
  let closing: Promise<void>;
  try {
    closing = Promise.resolve(adapter.close());
  } catch (err) {
    return Promise.reject(err);
  }
  if (!Number.isFinite(timeoutMs)) return closing;
  // A close() that never settles must not hold its slot (and pool.close()) for ever.
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`adapter close() did not finish within ${timeoutMs} ms (closeTimeoutMs)`)), timeoutMs);
    timer.unref();
  });
  return Promise.race([closing, late]).finally(() => clearTimeout(timer));
}
