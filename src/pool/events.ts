import type { PoolEvents, PoolLogger } from './types.js';

export type PoolListener<A, E extends keyof PoolEvents<A>> = (payload: PoolEvents<A>[E]) => void;

/**
 * The pool's typed listeners. Not node's EventEmitter: an 'error' event with no listener must not
 * throw, a throwing listener must not break the pool (tarn's listener test), and `has()` lets the
 * lending path skip building a payload nobody reads.
 */
export class PoolEmitter<A> {
  private readonly listeners: { [E in keyof PoolEvents<A>]?: Array<PoolListener<A, E>> } = {};

  constructor(private readonly log: PoolLogger) {}

  has(event: keyof PoolEvents<A>): boolean {
    return this.listeners[event] !== undefined;
  }

  on<E extends keyof PoolEvents<A>>(event: E, fn: PoolListener<A, E>): void {
    ((this.listeners[event] ??= []) as Array<PoolListener<A, E>>).push(fn);
  }

  off<E extends keyof PoolEvents<A>>(event: E, fn: PoolListener<A, E>): void {
    const list = this.listeners[event] as Array<PoolListener<A, E>> | undefined;
    const i = list ? list.indexOf(fn) : -1;
    if (i >= 0) list!.splice(i, 1);
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
