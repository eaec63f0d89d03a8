import type { PoolEmitter } from './events.js';
import type { Entry, KeyPool } from './state.js';
import type { DestroyReason, PoolLogger, PooledAdapter } from './types.js';

/**
 * The state transitions that the passes outside AdapterPool.ts (housekeeping, live key changes) may
 * ask of the pool. The pool owns its state machine; those passes only decide which adapter goes where.
 */
export interface PoolHost<A extends PooledAdapter> {
  readonly pools: readonly KeyPool<A>[];
  readonly log: PoolLogger;
  readonly events: PoolEmitter<A>;
  readonly healthCheckTimeoutMs: number;
  readonly maxFailedHealthChecks: number;
  /** Closes an adapter nobody holds (idle, unhealthy or checking). */
  destroy(e: Entry<A>, reason: DestroyReason): void;
  /** Out of the lending stack and counted unhealthy (logged and emitted unless quiet). */
  markUnhealthy(e: Entry<A>, error: unknown, quiet: boolean): void;
  /** Serves the key's waiters and starts the creates it needs. */
  dispatch(kp: KeyPool<A>): void;
  /** A removed key whose last adapter closed leaves the pool. */
  drained(kp: KeyPool<A>): void;
}
