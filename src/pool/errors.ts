/** Base of every error the pool throws; `key` is the `model:provider` it concerns. */
export class PoolError extends Error {
  readonly key: string;
  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.key = key;
    this.name = new.target.name;
  }
}

/** No adapter became available within the acquire timeout. */
export class AcquireTimeoutError extends PoolError {
  readonly timeoutMs: number;
  constructor(key: string, timeoutMs: number) {
    super(key, `no adapter for ${key} became available within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** The waiter queue is at `maxWaiters`: rejected at once instead of queueing. */
export class TooManyWaitersError extends PoolError {
  readonly maxWaiters: number;
  constructor(key: string, maxWaiters: number) {
    super(key, `too many callers waiting for an adapter for ${key} (maxWaiters ${maxWaiters})`);
    this.maxWaiters = maxWaiters;
  }
}

/** The pool was closed (before or while waiting). */
export class PoolClosedError extends PoolError {
  constructor(key: string) {
    super(key, `adapter pool is closed (requested ${key})`);
  }
}

/** `createAdapter` failed and the caller could not be served before its deadline. */
export class CreateFailedError extends PoolError {
  constructor(key: string, cause: unknown) {
    super(key, `could not create an adapter for ${key}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Release of an adapter this pool did not lend (or already took back). */
export class NotLeasedError extends PoolError {
  constructor(key: string) {
    super(key, `adapter released to ${key} is not currently leased from that pool (double release or foreign object)`);
  }
}

/** The acquire was aborted through the caller's AbortSignal. */
export class AcquireAbortedError extends PoolError {
  constructor(key: string, reason?: unknown) {
    super(key, `acquire of an adapter for ${key} was aborted`, { cause: reason });
  }
}

/** The key was removed from the pool (`removeKey`): it lends nothing more. */
export class KeyRemovedError extends PoolError {
  constructor(key: string) {
    super(key, `${key} was removed from the adapter pool`);
  }
}
