import type { PoolEvents, PoolLogger } from './types.js';

export type PoolListener<A, E extends keyof PoolEvents<A>> = (payload: PoolEvents<A>[E]) => void;

/**
 * The pool's typed listeners. Not node's EventEmitter: an 'error' event with no listener must not
 * throw, a throwing listener must not break the pool (tarn's listener test), and `hasAcquired` /
 * `hasReleased` let the lending path skip building a payload nobody reads.
 */
export class PoolEmitter<A> {
  /**
   * The lending path's two events have listeners: plain fields, read on every acquire and release.
   * `has(event)` there was a keyed lookup on the listener table, ~7 % of an uncontended acquire + release.
   */
  hasAcquired = false;
  hasReleased = false;
  private readonly listeners: { [E in keyof PoolEvents<A>]?: Array<PoolListener<A, E>> } = {};

  constructor(private readonly log: PoolLogger) {}

  on<E extends keyof PoolEvents<A>>(event: E, fn: PoolListener<A, E>): void {
    ((this.listeners[event] ??= []) as Array<PoolListener<A, E>>).push(fn);
    this.sync();
  }

  off<E extends keyof PoolEvents<A>>(event: E, fn: PoolListener<A, E>): void {
    const list = this.listeners[event] as Array<PoolListener<A, E>> | undefined;
    const i = list ? list.indexOf(fn) : -1;
    if (i < 0) return;
    list!.splice(i, 1);
    // The last one gone: the lending path builds no payload again.
    if (list!.length === 0) delete this.listeners[event];
    this.sync();
  }

  private sync(): void {
    this.hasAcquired = this.listeners.acquired !== undefined;
    this.hasReleased = this.listeners.released !== undefined;
  }

  emit<E extends keyof PoolEvents<A>>(event: E, payload: PoolEvents<A>[E]): void {
    const list = this.listeners[event] as Array<PoolListener<A, E>> | undefined;
    if (list === undefined) return;
    for (const fn of list) {
      try {
        fn(payload);
      } catch (err) {
        this.log.error?.({ err }, `pool event listener for "${String(event)}" threw`);
      }
    }
  }
}
