import { setTimeout as sleep } from 'node:timers/promises';
import type { PoolKey } from '../../src/pool/types.js';

/** A stand-in adapter: counts how it is used so tests can see what the pool did to it. */
export class FakeAdapter {
  static nextId = 1;
  readonly id = FakeAdapter.nextId++;
  healthy = true;
  closed = false;
  checks = 0;
  holders = 0;
  constructor(readonly key: PoolKey) {}
  async healthCheck(): Promise<boolean> {
    this.checks++;
    if (this.holders > 0) throw new Error(`adapter ${this.id} health-checked while in use`);
    return this.healthy;
  }
  async close(): Promise<void> {
    if (this.holders > 0) throw new Error(`adapter ${this.id} closed while in use`);
    this.closed = true;
  }
}

export interface Factory {
  create: (key: PoolKey) => Promise<FakeAdapter>;
  made: FakeAdapter[];
  calls: number;
}

export function factory(opts: { delayMs?: number; fail?: (n: number) => boolean } = {}): Factory {
  const f: Factory = {
    made: [],
    calls: 0,
    create: async (key) => {
      const n = ++f.calls;
      if (opts.delayMs) await sleep(opts.delayMs);
      if (opts.fail?.(n)) throw new Error(`create #${n} failed`);
      const a = new FakeAdapter(key);
      f.made.push(a);
      return a;
    },
  };
  return f;
}

export { sleep };
