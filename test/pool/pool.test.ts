import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  AdapterPool,
  AcquireAbortedError,
  AcquireTimeoutError,
  CreateFailedError,
  NotLeasedError,
  PoolClosedError,
  TooManyWaitersError,
} from '../../src/index.js';
import { FakeAdapter, factory, sleep } from './helpers.js';

type Pool = AdapterPool<FakeAdapter>;

/** The reported counters must add up at every step. */
function assertCountersAddUp(pool: Pool): void {
  const stats = pool.stats();
  let total = 0;
  let inUse = 0;
  let available = 0;
  let unhealthy = 0;
  for (const [key, p] of Object.entries(stats.pools)) {
    assert.equal(p.total, p.available + p.in_use + p.unhealthy + p.checking, `${key}: total = available + in_use + unhealthy + checking`);
    assert.ok(p.total + p.closing + p.creating <= p.max_pool_size, `${key}: within max_pool_size`);
    total += p.total;
    inUse += p.in_use;
    available += p.available;
    unhealthy += p.unhealthy;
  }
  const status = pool.status();
  assert.equal(status.total_pools, stats.total_pools);
  assert.equal(status.total_adapters, total);
  assert.equal(status.in_use_adapters, inUse);
  assert.equal(status.available_adapters, available);
  assert.equal(status.unhealthy_adapters, unhealthy);
  assert.equal(status.total_adapters, status.available_adapters + status.in_use_adapters + status.unhealthy_adapters + status.checking_adapters, 'status: total = available + in_use + unhealthy + checking');
}

function newPool(opts: Partial<ConstructorParameters<typeof AdapterPool<FakeAdapter>>[0]> = {}, f = factory()): { pool: Pool; f: ReturnType<typeof factory> } {
  const pool = new AdapterPool<FakeAdapter>({ createAdapter: f.create, ...opts });
  return { pool, f };
}

describe('seed test 1: basic get and release', () => {
  test('getAdapter lends an adapter and releaseAdapter puts it back, with the seed stats fields', async () => {
    const { pool } = newPool();
    const a = await pool.getAdapter('doubao-seed-1-6-flash-250715', 'volcengine');
    assert.ok(a instanceof FakeAdapter);
    assert.deepEqual(a.key, { model: 'doubao-seed-1-6-flash-250715', provider: 'volcengine' });
    await sleep(5); // let the second (minimum) adapter finish creating
    let s = pool.stats();
    assert.equal(s.total_pools, 1);
    const p = s.pools['doubao-seed-1-6-flash-250715:volcengine']!;
    for (const field of ['total', 'available', 'in_use', 'unhealthy', 'expired', 'max_pool_size', 'min_pool_size']) {
      assert.ok(field in p, `stats has ${field}`);
    }
    assert.equal(p.in_use, 1);
    assert.equal(p.total, 2, 'minPoolSize 2 created on first use');
    assert.equal(p.max_pool_size, 10);
    assert.equal(p.min_pool_size, 2);
    assertCountersAddUp(pool);
    await pool.releaseAdapter(a, 'doubao-seed-1-6-flash-250715', 'volcengine');
    s = pool.stats();
    assert.equal(s.pools['doubao-seed-1-6-flash-250715:volcengine']!.in_use, 0);
    assert.equal(s.pools['doubao-seed-1-6-flash-250715:volcengine']!.available, 2);
    const st = pool.status();
    assert.deepEqual(
      { t: st.total_adapters, a: st.available_adapters, u: st.in_use_adapters, h: st.unhealthy_adapters, ur: st.utilization, hr: st.health },
      { t: 2, a: 2, u: 0, h: 0, ur: 0, hr: 1 },
    );
    // The released adapter is reused, not a new one.
    const again = await pool.getAdapter('doubao-seed-1-6-flash-250715', 'volcengine');
    assert.equal(again, a, 'most recently released adapter is lent first');
    assert.equal(pool.status().utilization, 0.5);
    await pool.releaseAdapter(again, 'doubao-seed-1-6-flash-250715', 'volcengine');
    await pool.close();
  });

  test('use count and last-used time are tracked per adapter', async () => {
    const { pool } = newPool({ minPoolSize: 1 });
    for (let i = 0; i < 3; i++) await pool.releaseAdapter(await pool.getAdapter('m', 'p'), 'm', 'p');
    const [row] = pool.details('m', 'p');
    assert.equal(row!.use_count, 3);
    assert.ok(row!.last_used_at !== null && row!.last_used_at <= Date.now());
    await pool.close();
  });
});

describe('seed test 2: scoped release', () => {
  test('withAdapter releases after success and after a throw', async () => {
    const { pool } = newPool();
    const out = await pool.withAdapter('m', 'p', async (a) => a.id);
    assert.equal(typeof out, 'number');
    assert.equal(pool.status().in_use_adapters, 0);
    await assert.rejects(pool.withAdapter('m', 'p', async () => { throw new Error('boom'); }), /boom/);
    assert.equal(pool.status().in_use_adapters, 0);
    await pool.close();
  });

  test('await using releases the lease when the scope ends, even on throw', async () => {
    const { pool } = newPool();
    {
      await using lease = await pool.acquire('m', 'p');
      assert.ok(lease.adapter instanceof FakeAdapter);
      assert.equal(pool.status().in_use_adapters, 1);
    }
    assert.equal(pool.status().in_use_adapters, 0);
    const scoped = async (): Promise<void> => {
      await using lease = await pool.acquire('m', 'p');
      void lease;
      throw new Error('inside');
    };
    await assert.rejects(scoped(), /inside/);
    assert.equal(pool.status().in_use_adapters, 0);
    await pool.close();
  });
});

describe('seed test 3: concurrent acquisition', () => {
  test('100 concurrent callers share at most maxPoolSize adapters, FIFO', async () => {
    const f = factory({ delayMs: 2 });
    const { pool } = newPool({ maxPoolSize: 5 }, f);
    const order: number[] = [];
    let holding = 0;
    let maxHolding = 0;
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        pool.withAdapter('m', 'p', async (a) => {
          order.push(i);
          a.holders++;
          holding++;
          maxHolding = Math.max(maxHolding, holding);
          await sleep(1);
          holding--;
          a.holders--;
          assertCountersAddUp(pool);
        }),
      ),
    );
    assert.equal(maxHolding, 5);
    assert.equal(f.made.length, 5, 'never more than maxPoolSize created');
    assert.deepEqual(order, [...order].sort((x, y) => x - y), 'served first in, first out');
    await pool.close();
  });
});

describe('seed test 4: health checks', () => {
  test('failing adapters are marked unhealthy, not lent, and put back when they recover', async () => {
    const { pool, f } = newPool({ minPoolSize: 2 });
    const events: string[] = [];
    pool.on('unhealthy', () => events.push('unhealthy')).on('recovered', () => events.push('recovered'));
    await pool.start();
    await pool.releaseAdapter(await pool.getAdapter('m', 'p'), 'm', 'p');
    const [a, b] = f.made;
    a!.healthy = false;
    let r = await pool.healthCheck();
    assert.equal(r.checked, 2);
    assert.equal(r.unhealthy, 1);
    assert.equal(r.healthy, 1);
    assert.equal(pool.stats().pools['m:p']!.unhealthy, 1);
    assertCountersAddUp(pool);
    // The unhealthy one is never lent: two callers get b and a fresh adapter.
    const x = await pool.getAdapter('m', 'p');
    const y = await pool.getAdapter('m', 'p');
    assert.notEqual(x, a);
    assert.notEqual(y, a);
    assert.ok(x === b || y === b);
    await pool.releaseAdapter(x, 'm', 'p');
    await pool.releaseAdapter(y, 'm', 'p');
    a!.healthy = true;
    r = await pool.healthCheck();
    assert.equal(r.recovered, 1);
    assert.equal(pool.stats().pools['m:p']!.unhealthy, 0);
    assert.deepEqual(events, ['unhealthy', 'recovered']);
    assertCountersAddUp(pool);
    await pool.close();
  });

  test('an adapter in use is never health-checked, and one that stays unhealthy is replaced', async () => {
    const { pool, f } = newPool({ minPoolSize: 2, maxFailedHealthChecks: 2 });
    await pool.start();
    const held = await pool.getAdapter('m', 'p');
    held.holders++; // FakeAdapter throws if checked or closed while held
    const other = f.made.find((a) => a !== held)!;
    other.healthy = false;
    let r = await pool.healthCheck();
    assert.equal(r.skipped_in_use, 1);
    assert.equal(r.unhealthy, 1);
    r = await pool.healthCheck();
    assert.equal(r.replaced, 1, 'replaced after maxFailedHealthChecks failures');
    await sleep(5);
    assert.ok(other.closed);
    assert.equal(held.checks, 0);
    const s = pool.stats().pools['m:p']!;
    assert.equal(s.total, 2, 'minimum refilled with a fresh adapter');
    assert.equal(s.unhealthy, 0);
    held.holders--;
    await pool.releaseAdapter(held, 'm', 'p');
    await pool.close();
  });

  test('a rejecting or hanging health check counts as unhealthy', async () => {
    const f = factory();
    const { pool } = newPool({ minPoolSize: 2, healthCheckTimeoutMs: 20, keys: [{ model: 'm', provider: 'p' }] }, f);
    await pool.start();
    const [a, b] = f.made;
    a!.healthCheck = async () => { throw new Error('down'); };
    b!.healthCheck = () => new Promise(() => {});
    const r = await pool.healthCheck();
    assert.equal(r.unhealthy, 2);
    await pool.close();
  });

  test('releasing with healthy:false takes the adapter out of lending', async () => {
    const { pool } = newPool({ minPoolSize: 1 });
    const a = await pool.getAdapter('m', 'p');
    await pool.releaseAdapter(a, 'm', 'p', { healthy: false });
    assert.equal(pool.stats().pools['m:p']!.unhealthy, 1);
    const b = await pool.getAdapter('m', 'p');
    assert.notEqual(b, a);
    await pool.releaseAdapter(b, 'm', 'p');
    await pool.close();
  });
});

describe('seed test 5: cleanup', () => {
  test('expired by uses, lifetime and idleness are removed; the minimum is kept and refilled', async () => {
    const lines: string[] = [];
    const logger = { info: (_o: unknown, m?: string) => lines.push(m ?? ''), debug: () => {}, warn: () => {}, error: () => {} };
    const { pool, f } = newPool({ minPoolSize: 2, maxUses: 3, idleTimeoutMs: 30, logger });
    await pool.start();
    // Use one adapter 3 times: it expires by uses on its last release.
    const first = await pool.getAdapter('m', 'p');
    await pool.releaseAdapter(first, 'm', 'p');
    for (let i = 0; i < 2; i++) await pool.releaseAdapter(await pool.getAdapter('m', 'p'), 'm', 'p');
    await sleep(5);
    assert.ok(first.closed, 'retired after maxUses');
    assert.equal(pool.stats().pools['m:p']!.total, 2, 'minimum refilled');
    // Grow to 5, then let them idle: cleanup brings it back to the minimum, not below.
    const held = await Promise.all(Array.from({ length: 5 }, () => pool.getAdapter('m', 'p')));
    for (const a of held) await pool.releaseAdapter(a, 'm', 'p');
    assert.equal(pool.stats().pools['m:p']!.total, 5);
    await sleep(50);
    const r = await pool.cleanup();
    assert.equal(r.removed, 3);
    assert.equal(pool.stats().pools['m:p']!.total, 2);
    assert.ok(lines.includes('🧹 清理了 3 个过期适配器'), lines.join('\n'));
    assert.ok(f.made.length >= 6);
    assertCountersAddUp(pool);
    await pool.close();
  });

  test('an in-use adapter past its lifetime is only marked and retired on release', async () => {
    const { pool } = newPool({ minPoolSize: 1, maxLifetimeMs: 20 });
    const a = await pool.getAdapter('m', 'p');
    a.holders++;
    await sleep(30);
    await pool.cleanup();
    assert.equal(a.closed, false);
    assert.equal(pool.stats().pools['m:p']!.expired, 1);
    a.holders--;
    await pool.releaseAdapter(a, 'm', 'p');
    await sleep(5);
    assert.ok(a.closed);
    await pool.close();
  });

  test('cleanup removes unhealthy idle adapters and refills the minimum', async () => {
    const { pool, f } = newPool({ minPoolSize: 2, keys: [{ model: 'm', provider: 'p' }] });
    await pool.start();
    f.made[0]!.healthy = false;
    await pool.healthCheck();
    const r = await pool.cleanup();
    assert.equal(r.unhealthy, 1);
    await sleep(5);
    const s = pool.stats().pools['m:p']!;
    assert.equal(s.unhealthy, 0);
    assert.equal(s.total, 2);
    await pool.close();
  });
});

describe('status during a health check', () => {
  test('status() lost the adapters under a health check (total 6 = 4 available + 0 + 0): it counts them as checking_adapters', async () => {
    const { pool, f } = newPool({ minPoolSize: 2, keys: [{ model: 'm', provider: 'p' }] });
    await pool.start();
    for (const a of f.made) a.healthCheck = async () => (await sleep(60), true);
    const running = pool.healthCheck();
    await sleep(15);
    const st = pool.status();
    assert.equal(st.checking_adapters, 2);
    assert.equal(st.total_adapters, st.available_adapters + st.in_use_adapters + st.unhealthy_adapters + st.checking_adapters);
    assertCountersAddUp(pool);
    await running;
    assert.equal(pool.status().checking_adapters, 0);
    await pool.close();
  });
});

describe('a pool at maxPoolSize', () => {
  // Bug: cleanup (and a health check's replacement) closed adapters of a full pool and asked for
  // replacements before the closes had freed room, so none was made: the pool stayed empty, with
  // health 100 % and no create failure, until the next request or cleanup pass.
  async function fullPool(opts: Partial<ConstructorParameters<typeof AdapterPool<FakeAdapter>>[0]> = {}) {
    const made = newPool({ minPoolSize: 2, maxPoolSize: 3, ...opts });
    const leases = await Promise.all([1, 2, 3].map(() => made.pool.getAdapter('m', 'p')));
    for (const a of leases) await made.pool.releaseAdapter(a, 'm', 'p');
    assert.equal(made.pool.stats().pools['m:p']!.total, 3);
    return made;
  }
  async function settled(pool: Pool): Promise<void> {
    for (let i = 0; i < 50 && (pool.stats().pools['m:p']!.closing > 0 || pool.stats().pools['m:p']!.creating > 0); i++) await sleep(2);
  }

  test('cleanup of its unhealthy adapters left it empty: it is refilled to minPoolSize once the closes finish', async () => {
    const { pool, f } = await fullPool();
    for (const a of f.made) a.healthy = false;
    await pool.healthCheck();
    const r = await pool.cleanup();
    assert.equal(r.removed, 3);
    await settled(pool);
    const s = pool.stats().pools['m:p']!;
    assert.equal(s.total, 2, 'refilled to the minimum');
    assert.equal(s.available, 2);
    assert.equal(f.calls, 5, 'two new creates');
    assertCountersAddUp(pool);
    await pool.close();
  });

  test('cleanup of its expired adapters left it empty: refilled too', async () => {
    const { pool, f } = await fullPool({ maxLifetimeMs: 1_000 });
    await sleep(1_050);
    await pool.cleanup();
    await settled(pool);
    assert.equal(pool.stats().pools['m:p']!.total, 2);
    assert.equal(f.made.filter((a) => !a.closed).length, 2);
    await pool.close();
  });

  test('a health check that replaced its failing adapters left it empty: refilled too', async () => {
    const { pool, f } = await fullPool({ maxFailedHealthChecks: 1 });
    for (const a of f.made) a.healthy = false;
    const r = await pool.healthCheck();
    assert.equal(r.replaced, 3);
    await settled(pool);
    assert.equal(pool.stats().pools['m:p']!.total, 2);
    await pool.close();
  });
});

describe('limits under load', () => {
  test('randomized concurrent load never exceeds maxPoolSize per key nor maxTotal overall', async () => {
    let live = 0;
    let maxLive = 0;
    const perKey = new Map<string, number>();
    const maxPerKey = new Map<string, number>();
    let seed = 42;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pool = new AdapterPool<FakeAdapter>({
      maxPoolSize: 4,
      minPoolSize: 0,
      maxTotal: 7,
      createAdapter: async (key) => {
        await sleep(Math.floor(rnd() * 3));
        const k = `${key.model}:${key.provider}`;
        live++;
        perKey.set(k, (perKey.get(k) ?? 0) + 1);
        maxLive = Math.max(maxLive, live);
        maxPerKey.set(k, Math.max(maxPerKey.get(k) ?? 0, perKey.get(k)!));
        const a = new FakeAdapter(key);
        const close = a.close.bind(a);
        a.close = async () => {
          await sleep(Math.floor(rnd() * 2));
          await close();
          live--;
          perKey.set(k, perKey.get(k)! - 1);
        };
        return a;
      },
    });
    const keys = ['a', 'b', 'c'];
    let lent = 0;
    let maxLent = 0;
    await Promise.all(
      Array.from({ length: 300 }, async () => {
        const p = keys[Math.floor(rnd() * keys.length)]!;
        await pool.withAdapter('m', p, async (a) => {
          a.holders++;
          lent++;
          maxLent = Math.max(maxLent, lent);
          assertCountersAddUp(pool);
          await sleep(Math.floor(rnd() * 3));
          lent--;
          a.holders--;
        });
      }),
    );
    assert.ok(maxLive <= 7, `at most maxTotal alive (saw ${maxLive})`);
    assert.ok(maxLent <= 7);
    for (const [k, n] of maxPerKey) assert.ok(n <= 4, `${k}: at most maxPoolSize alive (saw ${n})`);
    assert.equal(pool.status().in_use_adapters, 0);
    await pool.close();
    assert.equal(live, 0, 'close() closed every adapter');
  });

  test('configured keys get their minimum pre-created by start()', async () => {
    const { pool, f } = newPool({ minPoolSize: 3, keys: [{ model: 'm1', provider: 'p' }, { model: 'm2', provider: 'p' }], keyOptions: { 'm2:p': { minPoolSize: 1 } } });
    await pool.start();
    assert.equal(f.made.length, 4);
    assert.equal(pool.stats().pools['m1:p']!.available, 3);
    assert.equal(pool.stats().pools['m2:p']!.available, 1);
    await pool.close();
  });

  test('a key whose pool is full never blocks another key', async () => {
    const { pool } = newPool({ maxPoolSize: 1, minPoolSize: 0 });
    const a = await pool.getAdapter('m', 'full');
    const waiting = pool.getAdapter('m', 'full', { timeoutMs: 1000 });
    const other = await pool.getAdapter('m', 'free');
    assert.ok(other);
    await pool.releaseAdapter(other, 'm', 'free');
    await pool.releaseAdapter(a, 'm', 'full');
    assert.equal(await waiting, a);
    await pool.releaseAdapter(a, 'm', 'full');
    await pool.close();
  });

  test('at maxTotal an idle adapter of another key is closed to make room (POOL-310)', async () => {
    const { pool, f } = newPool({ maxTotal: 2, minPoolSize: 0 });
    const x = await pool.getAdapter('m', 'x');
    const y = await pool.getAdapter('m', 'y');
    await pool.releaseAdapter(x, 'm', 'x');
    const z = await pool.getAdapter('m', 'z', { timeoutMs: 1000 });
    assert.ok(x.closed, 'the idle adapter of another key was evicted');
    assert.equal(f.made.length, 3);
    await pool.releaseAdapter(y, 'm', 'y');
    await pool.releaseAdapter(z, 'm', 'z');
    await pool.close();
  });

  test('capacity freed by one key serves the waiters of another', async () => {
    const { pool } = newPool({ maxTotal: 1, minPoolSize: 0, maxUses: 1 });
    const x = await pool.getAdapter('m', 'x');
    const waiting = pool.getAdapter('m', 'y', { timeoutMs: 2000 });
    await sleep(5);
    await pool.releaseAdapter(x, 'm', 'x'); // expires on release (maxUses 1): frees the only slot
    const y = await waiting;
    assert.deepEqual(y.key, { model: 'm', provider: 'y' });
    await pool.releaseAdapter(y, 'm', 'y');
    await pool.close();
  });
});

describe('waiters', () => {
  test('a waiter that timed out never receives an adapter; the next waiter gets it', async () => {
    const { pool } = newPool({ maxPoolSize: 1, minPoolSize: 0 });
    const a = await pool.getAdapter('m', 'p');
    const timedOut = pool.getAdapter('m', 'p', { timeoutMs: 20 });
    const next = pool.getAdapter('m', 'p', { timeoutMs: 5000 });
    await assert.rejects(timedOut, (e: unknown) => e instanceof AcquireTimeoutError && /m:p/.test(e.message));
    await pool.releaseAdapter(a, 'm', 'p');
    assert.equal(await next, a);
    assert.equal(pool.stats().pools['m:p']!.waiting, 0);
    await pool.releaseAdapter(a, 'm', 'p');
    await pool.close();
  });

  test('an aborted waiter never receives an adapter', async () => {
    const { pool } = newPool({ maxPoolSize: 1, minPoolSize: 0 });
    const a = await pool.getAdapter('m', 'p');
    const ac = new AbortController();
    const aborted = pool.getAdapter('m', 'p', { signal: ac.signal });
    const next = pool.getAdapter('m', 'p');
    ac.abort();
    await assert.rejects(aborted, AcquireAbortedError);
    await pool.releaseAdapter(a, 'm', 'p');
    assert.equal(await next, a);
    await pool.releaseAdapter(a, 'm', 'p');
    await assert.rejects(pool.getAdapter('m', 'p', { signal: AbortSignal.abort() }), AcquireAbortedError);
    await pool.close();
  });

  test('maxWaiters rejects at once beyond the limit, including a limit of 0', async () => {
    for (const maxWaiters of [0, 2]) {
      const { pool } = newPool({ maxPoolSize: 1, minPoolSize: 0, maxWaiters });
      const a = await pool.getAdapter('m', 'p');
      const queued = Array.from({ length: maxWaiters }, () => pool.getAdapter('m', 'p'));
      await assert.rejects(pool.getAdapter('m', 'p'), TooManyWaitersError);
      await pool.releaseAdapter(a, 'm', 'p');
      for (const q of queued) await pool.releaseAdapter(await q, 'm', 'p');
      await pool.close();
    }
  });

  test('timeoutMs 0 rejects at once when the pool is full', async () => {
    const { pool } = newPool({ maxPoolSize: 1, minPoolSize: 0 });
    const a = await pool.getAdapter('m', 'p');
    await assert.rejects(pool.getAdapter('m', 'p', { timeoutMs: 0 }), AcquireTimeoutError);
    await pool.releaseAdapter(a, 'm', 'p');
    await pool.close();
  });

  test('regression: acquireTimeoutMs 0 for the whole pool timed out every caller that needed a new adapter (the create got a 0 deadline); it waits for the create, and still never queues behind a full pool', async () => {
    const { pool } = newPool({ maxPoolSize: 1, minPoolSize: 0, acquireTimeoutMs: 0 }, factory({ delayMs: 20 }));
    const a = await pool.getAdapter('m', 'p');
    await assert.rejects(pool.getAdapter('m', 'p'), AcquireTimeoutError);
    await pool.releaseAdapter(a, 'm', 'p');
    await pool.close();
  });

  test('after a spike past capacity, timeouts stop once load falls', async () => {
    const { pool } = newPool({ maxPoolSize: 2, minPoolSize: 0 });
    const spike = await Promise.allSettled(
      Array.from({ length: 20 }, () => pool.withAdapter('m', 'p', () => sleep(10), { timeoutMs: 15 })),
    );
    assert.ok(spike.some((r) => r.status === 'rejected'), 'the spike overflowed');
    const calm = await Promise.allSettled(Array.from({ length: 2 }, () => pool.withAdapter('m', 'p', () => sleep(1), { timeoutMs: 1000 })));
    assert.ok(calm.every((r) => r.status === 'fulfilled'));
    assert.equal(pool.status().in_use_adapters, 0);
    await pool.close();
  });
});

describe('createAdapter failing', () => {
  test('the waiter gets a clear error and a failed create holds no capacity', async () => {
    const f = factory({ fail: (n) => n === 1 });
    const { pool } = newPool({ maxPoolSize: 1, minPoolSize: 0, createRetryInitialMs: 5 }, f);
    await assert.rejects(pool.getAdapter('m', 'p'), (e: unknown) => e instanceof CreateFailedError && /m:p/.test(e.message) && /create #1 failed/.test(e.message));
    await sleep(10); // past the backoff
    const a = await pool.getAdapter('m', 'p');
    assert.ok(a, 'the slot freed by the failed create is usable');
    await pool.releaseAdapter(a, 'm', 'p');
    await pool.close();
  });

  test('after one failed create, every caller arriving while the pool waits to retry is rejected at once with CreateFailedError', async () => {
    const f = factory({ fail: (n) => n === 1 });
    const { pool } = newPool({ maxPoolSize: 2, minPoolSize: 0, createRetryInitialMs: 50 }, f);
    await assert.rejects(pool.getAdapter('m', 'p'), CreateFailedError);
    // The pool now waits 50 ms before it creates again. Callers with time left wait for that attempt...
    const waiting = [pool.getAdapter('m', 'p', { timeoutMs: 5000 }), pool.getAdapter('m', 'p')];
    // ...and only one that asked not to wait is told at once why there is nothing.
    await assert.rejects(pool.getAdapter('m', 'p', { timeoutMs: 0 }), (e: unknown) => e instanceof CreateFailedError && /create #1 failed/.test(e.message));
    const [a, b] = await Promise.all(waiting);
    assert.ok(a instanceof FakeAdapter && b instanceof FakeAdapter && a !== b, 'both waiting callers were served by the retry');
    assert.equal(f.calls, 3, 'one failed create, then one per waiting caller');
    await pool.releaseAdapter(a, 'm', 'p');
    await pool.releaseAdapter(b, 'm', 'p');
    await pool.close();
  });

  test('a caller waiting through a pending retry whose deadline comes first is told the create failed', async () => {
    const f = factory({ fail: (n) => n === 1 });
    const { pool } = newPool({ minPoolSize: 0, createRetryInitialMs: 500 }, f);
    await assert.rejects(pool.getAdapter('m', 'p'), CreateFailedError);
    await assert.rejects(pool.getAdapter('m', 'p', { timeoutMs: 20 }), (e: unknown) => e instanceof CreateFailedError && /create #1 failed/.test(e.message));
    await pool.close();
  });

  test('a create that always fails: no busy loop, the event loop stays alive, rejection by the deadline', async () => {
    let calls = 0;
    const pool = new AdapterPool<FakeAdapter>({
      minPoolSize: 0,
      propagateCreateError: false,
      createRetryInitialMs: 10,
      createAdapter: () => {
        calls++;
        return Promise.reject(new Error('no route to provider'));
      },
    });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    await assert.rejects(pool.getAdapter('m', 'p', { timeoutMs: 200 }), (e: unknown) => e instanceof CreateFailedError && /no route/.test(e.message));
    clearInterval(ticker);
    assert.ok(ticks >= 5, `event loop kept running (${ticks} ticks)`);
    assert.ok(calls >= 2 && calls <= 10, `retried with backoff, not in a loop (${calls} calls)`);
    await pool.close();
  });

  test('fails N times then recovers', async () => {
    const f = factory({ fail: (n) => n <= 3 });
    const { pool } = newPool({ minPoolSize: 0, propagateCreateError: false, createRetryInitialMs: 2 }, f);
    const a = await pool.getAdapter('m', 'p', { timeoutMs: 2000 });
    assert.equal(f.calls, 4);
    await pool.releaseAdapter(a, 'm', 'p');
    await pool.close();
  });

  test('a dead upstream logged an error at every create retry and its empty pool showed 100 % health: one line per streak, health 0, create_failures counted', async () => {
    const lines: Array<{ event?: string; failures?: number }> = [];
    const log = (o: object) => lines.push(o as { event?: string; failures?: number });
    let dead = true;
    const pool = new AdapterPool<FakeAdapter>({
      minPoolSize: 1,
      createRetryInitialMs: 2,
      createRetryMaxMs: 4,
      keys: [{ model: 'm', provider: 'p' }],
      logger: { info: log, warn: log, error: log, debug: log },
      createAdapter: (key) => (dead ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')) : Promise.resolve(new FakeAdapter(key))),
    });
    await pool.start().catch(() => {});
    await sleep(80); // many retries at 2..4 ms
    const entry = pool.stats().pools['m:p']!;
    assert.ok(entry.create_failures >= 5, `retried (${entry.create_failures} failures)`);
    assert.equal(entry.total, 0);
    assert.equal(entry.health, 0, 'an empty pool that cannot create is not healthy');
    assert.equal(pool.status().health, 0);
    const failed = lines.filter((l) => l.event === 'adapter_create_failed');
    assert.equal(failed.length, 1, 'one line for the streak, not one per retry');
    assert.equal(failed[0]!.failures, 1);
    dead = false;
    await sleep(20);
    const after = pool.stats().pools['m:p']!;
    assert.equal(after.create_failures, 0);
    assert.equal(after.total, 1);
    assert.equal(after.health, 1);
    const recovered = lines.find((l) => l.event === 'adapter_create_recovered');
    assert.ok(recovered !== undefined && (recovered.failures ?? 0) >= 5, 'the recovery is logged with the count');
    await pool.close();
  });

  test('a dead deployment beside a healthy one left the gateway-wide health at 100 %: the adapters it lacks count as unhealthy', async () => {
    const pool = new AdapterPool<FakeAdapter>({
      minPoolSize: 2,
      createRetryInitialMs: 5,
      createRetryMaxMs: 10,
      keys: [
        { model: 'm', provider: 'ok' },
        { model: 'm', provider: 'dead' },
      ],
      createAdapter: (key) => (key.provider === 'dead' ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')) : Promise.resolve(new FakeAdapter(key))),
    });
    await pool.start().catch(() => {});
    const st = pool.status();
    assert.equal(st.total_adapters, 2);
    assert.equal(st.unhealthy_adapters, 0, 'no adapter is unhealthy: the dead pool has none');
    assert.equal(st.health, 0.5, '2 healthy of the 4 the two pools want');
    assert.equal(pool.stats().pools['m:dead']!.health, 0);
    assert.equal(pool.stats().pools['m:ok']!.health, 1);
    await pool.close();
  });

  test('a key refused by the provider showed as "new adapter failed its health check" without the reason: the check\'s error is kept in the create error and the unhealthy line', async () => {
    const lines: Array<{ event?: string; reason?: string; err?: { message: string } }> = [];
    const log = (o: object) => lines.push(o as never);
    const made: FakeAdapter[] = [];
    let refuse = false;
    const pool = new AdapterPool<FakeAdapter>({
      minPoolSize: 1,
      maxFailedHealthChecks: 1,
      createRetryInitialMs: 5,
      createRetryMaxMs: 10,
      keys: [{ model: 'm', provider: 'p' }],
      logger: { info: log, warn: log, error: log, debug: log },
      createAdapter: async (key) => {
        const a = new FakeAdapter(key);
        a.healthCheck = async () => {
          if (refuse) throw new Error('p: HTTP 401: Incorrect API key provided: Bearer ***');
          return true;
        };
        made.push(a);
        return a;
      },
    });
    await pool.start();
    refuse = true;
    await pool.healthCheck();
    await sleep(40); // the replacement is checked (the key is suspect now) and fails
    const failed = lines.find((l) => l.event === 'adapter_create_failed');
    assert.ok(failed !== undefined, 'the replacement failed its check');
    assert.match(failed.err!.message, /failed its health check: p: HTTP 401: Incorrect API key provided/);
    await pool.close();

    const timedOut = new AdapterPool<FakeAdapter>({
      minPoolSize: 1,
      healthCheckTimeoutMs: 10,
      keys: [{ model: 'm', provider: 'p' }],
      logger: { info: log, warn: log, error: log, debug: log },
      createAdapter: async (key) => {
        const a = new FakeAdapter(key);
        a.healthCheck = () => new Promise<boolean>(() => {});
        return a;
      },
    });
    await timedOut.start();
    await timedOut.healthCheck();
    const unhealthy = lines.find((l) => l.event === 'adapter_unhealthy');
    assert.match(unhealthy?.reason ?? '', /did not answer within 10 ms/);
    await timedOut.close();
  });

  test('an empty pool that is not failing stays at health 1', async () => {
    const { pool } = newPool({ minPoolSize: 0, keys: [{ model: 'm', provider: 'p' }] });
    await pool.start();
    assert.equal(pool.stats().pools['m:p']!.health, 1);
    assert.equal(pool.stats().pools['m:p']!.create_failures, 0);
    await pool.close();
  });

  test('a create that finishes after its waiter gave up is pooled, not leaked', async () => {
    const f = factory({ delayMs: 40 });
    const { pool } = newPool({ minPoolSize: 0 }, f);
    await assert.rejects(pool.getAdapter('m', 'p', { timeoutMs: 10 }), AcquireTimeoutError);
    await sleep(60);
    assert.equal(pool.stats().pools['m:p']!.available, 1);
    await pool.close();
    assert.ok(f.made[0]!.closed);
  });

  test('a create slower than createTimeoutMs frees its slot and its late adapter is closed', async () => {
    const f = factory({ delayMs: 60 });
    const { pool } = newPool({ minPoolSize: 0, maxPoolSize: 1, createTimeoutMs: 10 }, f);
    const destroyed: string[] = [];
    pool.on('destroyed', (e) => destroyed.push(e.reason));
    await assert.rejects(pool.getAdapter('m', 'p', { timeoutMs: 500 }), CreateFailedError);
    await sleep(80);
    assert.deepEqual(destroyed, ['late_create']);
    assert.ok(f.made[0]!.closed);
    assert.equal(pool.stats().pools['m:p']!.total, 0);
    await pool.close();
  });
});

describe('release errors', () => {
  test('a double release or a foreign object is rejected and changes no counter', async () => {
    const { pool } = newPool({ minPoolSize: 1 });
    const a = await pool.getAdapter('m', 'p');
    await pool.releaseAdapter(a, 'm', 'p');
    const before = JSON.stringify(pool.stats());
    await assert.rejects(pool.releaseAdapter(a, 'm', 'p'), (e: unknown) => e instanceof NotLeasedError && /m:p/.test(e.message));
    await assert.rejects(pool.releaseAdapter(new FakeAdapter({ model: 'm', provider: 'p' }), 'm', 'p'), NotLeasedError);
    const b = await pool.getAdapter('m', 'p');
    await assert.rejects(pool.releaseAdapter(b, 'm', 'other'), NotLeasedError);
    await pool.releaseAdapter(b, 'm', 'p');
    assert.equal(JSON.stringify(pool.stats()), before);
    await pool.close();
  });
});

describe('close', () => {
  test('close() unblocks every waiter, waits for leases, is idempotent; later calls reject at once', async () => {
    const { pool, f } = newPool({ maxPoolSize: 1, minPoolSize: 0 });
    const a = await pool.getAdapter('m', 'p');
    const waiter = pool.getAdapter('m', 'p');
    const closing = pool.close();
    await assert.rejects(waiter, PoolClosedError);
    await assert.rejects(pool.getAdapter('m', 'p'), PoolClosedError);
    assert.equal(a.closed, false, 'a lent adapter is not closed under its holder');
    await pool.releaseAdapter(a, 'm', 'p');
    await closing;
    assert.equal(pool.close(), closing, 'idempotent');
    assert.ok(f.made.every((x) => x.closed));
  });

  test('close() closes lent adapters after closeTimeoutMs', async () => {
    const { pool } = newPool({ minPoolSize: 0, closeTimeoutMs: 10 });
    const a = await pool.getAdapter('m', 'p');
    await pool.close();
    assert.ok(a.closed);
  });

  test('regression: in a full pool an adapter released as broken held the room: its waiter timed out though nothing healthy could be lent; the adapter is replaced for it', async () => {
    const { pool } = newPool({ minPoolSize: 0, maxPoolSize: 1 });
    const a = await pool.getAdapter('m', 'p');
    const waiting = pool.getAdapter('m', 'p', { timeoutMs: 1000 });
    await pool.releaseAdapter(a, 'm', 'p', { healthy: false });
    const b = await waiting;
    assert.notEqual(b, a, 'a fresh adapter');
    assert.ok(a.closed, 'the broken one is closed');
    // A waiter that arrives after the adapter went unhealthy is served too.
    await pool.releaseAdapter(b, 'm', 'p', { healthy: false });
    const c = await pool.getAdapter('m', 'p', { timeoutMs: 1000 });
    assert.ok(c !== b && b.closed);
    await pool.releaseAdapter(c, 'm', 'p');
    assertCountersAddUp(pool);
    await pool.close();
  });

  test('regression: getAdapter() without a model and provider made a pool "undefined:undefined"; a timeoutMs of NaN waited for ever', async () => {
    const { pool } = newPool({ minPoolSize: 0, maxPoolSize: 1, acquireTimeoutMs: 50 });
    await assert.rejects((pool.getAdapter as (...a: unknown[]) => Promise<unknown>)(), TypeError);
    await assert.rejects(pool.getAdapter('m', ''), TypeError);
    assert.deepEqual(pool.keys(), [], 'no pool was made');
    const held = await pool.getAdapter('m', 'p');
    for (const timeoutMs of [NaN, -1, '10' as unknown as number]) await assert.rejects(pool.getAdapter('m', 'p', { timeoutMs }), RangeError, String(timeoutMs));
    await pool.releaseAdapter(held, 'm', 'p');
    await pool.close();
  });

  test('regression: an adapter close() took from its holder stayed counted in use (total 0, in use 1), and its holder\'s release threw NotLeasedError', async () => {
    const { pool } = newPool({ minPoolSize: 0, closeTimeoutMs: 10 });
    const a = await pool.getAdapter('m', 'p');
    const scoped = pool.withAdapter('m', 'p', async () => {
      await sleep(50);
      return 'the callback\'s result';
    });
    await sleep(5);
    await pool.close();
    const s = pool.status();
    assert.equal(s.total_adapters, 0);
    assert.equal(s.in_use_adapters, 0, 'counters add up: nothing is in use');
    assert.equal(pool.stats().pools['m:p']?.in_use ?? 0, 0);
    await pool.releaseAdapter(a, 'm', 'p'); // the holder's late release: accepted, once
    await assert.rejects(pool.releaseAdapter(a, 'm', 'p'), NotLeasedError, 'a second release is still a mistake');
    assert.equal(await scoped, 'the callback\'s result');
  });

  test('the process exits by itself after close(): no timer or handle left behind', async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const root = fileURLToPath(new URL('../../src/index.js', import.meta.url));
    const script = `
      import { AdapterPool } from ${JSON.stringify(root)};
      const pool = new AdapterPool({ createAdapter: async () => ({ healthCheck: async () => true, close: async () => {} }),
        cleanupIntervalMs: 1000, healthCheckIntervalMs: 1000, leakDetectionMs: 60000, keys: [{ model: 'm', provider: 'p' }] });
      await pool.start();
      const a = await pool.getAdapter('m', 'p');
      const w = pool.getAdapter('m', 'p', { timeoutMs: 60000 });
      await pool.releaseAdapter(a, 'm', 'p');
      await pool.releaseAdapter(await w, 'm', 'p');
      await pool.close();
      console.log('closed');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(killer);
    assert.equal(code, 0, 'exited on its own (not killed)');
    assert.match(out, /closed/);
  });
});

describe('logging, events and options', () => {
  test('logs carry the seed lines at sensible levels', async () => {
    const lines: Array<[string, string]> = [];
    const rec = (level: string) => (_o: unknown, m?: string) => lines.push([level, m ?? '']);
    const logger = { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
    const { pool } = newPool({ minPoolSize: 1, logger });
    await pool.start();
    const a = await pool.getAdapter('doubao-seed-1-6-flash-250715', 'Volcengine');
    await pool.releaseAdapter(a, 'doubao-seed-1-6-flash-250715', 'Volcengine');
    const key = 'doubao-seed-1-6-flash-250715:Volcengine';
    assert.deepEqual(lines.filter(([, m]) => !m.startsWith('🧹')), [
      ['info', '🔄 启动适配器池...'],
      ['info', `🔧 初始化适配器池: ${key}`],
      ['info', `✅ 创建适配器成功: ${key}`],
      ['debug', `🔄 从池中获取适配器: ${key} (使用次数: 1)`],
      ['debug', `🔄 释放适配器回池: ${key} (使用次数: 1)`],
    ]);
    await pool.close();
  });

  test('a throwing event listener breaks nothing', async () => {
    const { pool } = newPool({ logger: { error: () => {} } });
    pool.on('acquired', () => { throw new Error('listener bug'); });
    pool.on('created', () => { throw new Error('listener bug'); });
    const a = await pool.getAdapter('m', 'p');
    await pool.releaseAdapter(a, 'm', 'p');
    assert.equal(pool.status().in_use_adapters, 0);
    await pool.close();
  });

  test('leak detection warns with the acquiring stack', async () => {
    const { pool } = newPool({ leakDetectionMs: 10, logger: { warn: () => {} } });
    const leaks: string[] = [];
    pool.on('leak', (e) => leaks.push(e.stack));
    const a = await pool.getAdapter('m', 'p');
    await sleep(30);
    assert.equal(leaks.length, 1);
    assert.match(leaks[0]!, /adapter acquired here/);
    await pool.releaseAdapter(a, 'm', 'p');
    await pool.close();
  });

  test('invalid options are rejected with precise messages', () => {
    const create = factory().create;
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /createAdapter must be a function/],
      [{ createAdapter: create, maxPoolSize: 0 }, /maxPoolSize must be an integer >= 1/],
      [{ createAdapter: create, maxPoolSize: 1.5 }, /maxPoolSize must be an integer/],
      [{ createAdapter: create, minPoolSize: -1 }, /minPoolSize must be an integer >= 0/],
      [{ createAdapter: create, minPoolSize: 5, maxPoolSize: 2 }, /minPoolSize \(5\) must not be greater than maxPoolSize \(2\)/],
      [{ createAdapter: create, acquireTimeoutMs: -1 }, /acquireTimeoutMs must be >= 0 ms/],
      [{ createAdapter: create, acquireTimeoutMs: '5s' }, /acquireTimeoutMs must be a number/],
      [{ createAdapter: create, maxTotal: 0 }, /maxTotal must be an integer >= 1/],
      [{ createAdapter: create, maxWaiters: -1 }, /maxWaiters must be an integer >= 0/],
      [{ createAdapter: create, cleanupIntervalMs: 0 }, /cleanupIntervalMs must be >= 1 ms/],
      [{ createAdapter: create, maxUses: 0 }, /maxUses must be an integer >= 1/],
      [{ createAdapter: create, bogus: 1 }, /unknown option "bogus"/],
      [{ createAdapter: create, keyOptions: { 'm:p': { maxPoolSize: -2 } } }, /keyOptions\["m:p"\]: maxPoolSize/],
      [{ createAdapter: create, maxTotal: 3, keys: [{ model: 'a', provider: 'p' }, { model: 'b', provider: 'p' }] }, /minPoolSize of the configured keys \(4\) exceeds maxTotal \(3\)/],
    ];
    for (const [opts, re] of cases) assert.throws(() => new AdapterPool(opts as never), re);
  });
});
