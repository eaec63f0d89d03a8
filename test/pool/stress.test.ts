import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdapterPool, PoolError } from '../../src/index.js';
import type { PoolKey } from '../../src/pool/types.js';
import { sleep } from './helpers.js';

/** An adapter that records every rule the pool breaks with it, instead of throwing into the pool. */
class WatchedAdapter {
  static live = 0;
  static violations: string[] = [];
  static seq = 0;
  readonly id = ++WatchedAdapter.seq;
  holders = 0;
  closed = false;
  healthy = true;
  constructor(readonly key: PoolKey) {
    WatchedAdapter.live++;
  }
  async healthCheck(): Promise<boolean> {
    if (this.holders > 0) WatchedAdapter.violations.push(`#${this.id} checked while held`);
    if (this.closed) WatchedAdapter.violations.push(`#${this.id} checked after close`);
    await sleep(1);
    return this.healthy;
  }
  async close(): Promise<void> {
    if (this.holders > 0) WatchedAdapter.violations.push(`#${this.id} closed while held`);
    if (this.closed) WatchedAdapter.violations.push(`#${this.id} closed twice`);
    this.closed = true;
    await sleep(1);
    WatchedAdapter.live--;
  }
}

test('randomized stress: acquires, aborts, timeouts, broken releases, failing creates, health checks and cleanups interleaved', async () => {
  let seed = Number(process.env.STRESS_SEED ?? 7);
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const MAX = 3;
  const TOTAL = 5;
  const all: WatchedAdapter[] = [];
  const pool = new AdapterPool<WatchedAdapter>({
    maxPoolSize: MAX,
    minPoolSize: 1,
    maxTotal: TOTAL,
    maxUses: 5,
    maxLifetimeMs: 40,
    idleTimeoutMs: 10,
    createRetryInitialMs: 2,
    createRetryMaxMs: 10,
    maxFailedHealthChecks: 2,
    createAdapter: async (key) => {
      await sleep(Math.floor(rnd() * 3));
      if (rnd() < 0.1) throw new Error('random create failure');
      const a = new WatchedAdapter(key);
      a.healthy = rnd() > 0.1;
      all.push(a);
      return a;
    },
  });
  const keys = ['a', 'b', 'c'];
  let held = 0;
  let served = 0;
  let rejected = 0;
  const check = (): void => {
    const stats = pool.stats();
    let live = 0;
    for (const [k, p] of Object.entries(stats.pools)) {
      assert.equal(p.total, p.available + p.in_use + p.unhealthy + p.checking, `${k} counters add up`);
      assert.ok(p.total + p.closing + p.creating <= MAX, `${k} within maxPoolSize`);
      live += p.total + p.closing + p.creating;
      const ks = pool.keyState('m', k.slice(2))!;
      assert.equal(ks.unhealthy, p.unhealthy, `${k} keyState's running unhealthy count matches`);
      assert.equal(ks.total, p.total);
    }
    assert.ok(live <= TOTAL, `within maxTotal (${live})`);
    assert.equal(pool.status().in_use_adapters, held);
  };
  const housekeeping = (async () => {
    for (let i = 0; i < 40; i++) {
      await sleep(5);
      for (const a of all) if (!a.closed && a.holders === 0 && rnd() < 0.2) a.healthy = !a.healthy;
      await (rnd() < 0.5 ? pool.healthCheck() : pool.cleanup());
      check();
    }
  })();
  await Promise.all(
    Array.from({ length: 400 }, async (_, i) => {
      await sleep(Math.floor(rnd() * 200));
      const provider = keys[i % keys.length]!;
      const ac = new AbortController();
      if (rnd() < 0.1) setTimeout(() => ac.abort(), Math.floor(rnd() * 5));
      let a: WatchedAdapter;
      try {
        // Deadlines of 0..290 ms: single-digit ones expired before any create on a loaded machine (load 15 on 2 cores).
        a = await pool.getAdapter('m', provider, { signal: ac.signal, timeoutMs: Math.floor(rnd() * 30) * 10 });
      } catch (err) {
        assert.ok(err instanceof PoolError, `only pool errors (${String(err)})`);
        rejected++;
        check();
        return;
      }
      if (a.closed) WatchedAdapter.violations.push(`#${a.id} lent after close`);
      if (a.holders > 0) WatchedAdapter.violations.push(`#${a.id} lent twice`);
      a.holders++;
      held++;
      served++;
      check();
      await sleep(Math.floor(rnd() * 4));
      a.holders--;
      held--;
      await pool.releaseAdapter(a, 'm', provider, { healthy: rnd() > 0.05 });
      check();
    }),
  );
  await housekeeping;
  assert.deepEqual(WatchedAdapter.violations, []);
  assert.ok(served > 100, `enough traffic got through (${served} served, ${rejected} rejected)`);
  assert.equal(pool.status().in_use_adapters, 0);
  await pool.close();
  assert.equal(WatchedAdapter.live, 0, 'every adapter closed');
  assert.deepEqual(WatchedAdapter.violations, []);
  console.log(`stress: ${served} served, ${rejected} rejected, ${all.length} adapters created`);
});
