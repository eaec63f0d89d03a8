import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AdapterPool } from '../../src/index.js';
import { FakeAdapter, factory, sleep } from './helpers.js';

// Regressions found by a black-box audit of the pool against known resource-pool pitfalls.

describe('pool pitfalls', () => {
  test('regression: at maxTotal, a waiter of another key sat until its deadline while the only adapter went idle on its own key', async () => {
    const pool = new AdapterPool<FakeAdapter>({ createAdapter: factory().create, minPoolSize: 0, maxPoolSize: 3, maxTotal: 1 });
    const a = await pool.getAdapter('A', 'p');
    const b = pool.getAdapter('B', 'p', { timeoutMs: 1000 });
    await sleep(10);
    const t0 = Date.now();
    await pool.releaseAdapter(a, 'A', 'p');
    const got = await b;
    assert.ok(Date.now() - t0 < 500, `served when A's adapter went idle (${Date.now() - t0} ms)`);
    assert.ok(a.closed, "A's idle adapter was closed to make room");
    await pool.releaseAdapter(got, 'B', 'p');
    // The same when the holder reports it broken: an unhealthy adapter holds no lendable room either.
    const b2 = await pool.getAdapter('B', 'p');
    const aWait = pool.getAdapter('A', 'p', { timeoutMs: 1000 });
    await sleep(10);
    await pool.releaseAdapter(b2, 'B', 'p', { healthy: false });
    await pool.releaseAdapter(await aWait, 'A', 'p');
    await pool.close();
  });

  test('regression: an adapter whose close() never settles held its slot for ever and pool.close() never resolved', async () => {
    let hang = true;
    const pool = new AdapterPool<FakeAdapter>({
      createAdapter: async (key) => {
        const a = new FakeAdapter(key);
        if (hang) a.close = () => new Promise<void>(() => {});
        hang = false;
        return a;
      },
      minPoolSize: 0,
      maxPoolSize: 1,
      maxUses: 1,
      closeTimeoutMs: 100,
    });
    const errors: unknown[] = [];
    pool.on('error', (e) => errors.push(e.error));
    const first = await pool.getAdapter('m', 'p');
    await pool.releaseAdapter(first, 'm', 'p'); // retired (maxUses 1): its close hangs
    const second = await pool.getAdapter('m', 'p', { timeoutMs: 1000 });
    assert.ok(second !== first, 'the slot was freed for a new adapter');
    assert.equal(errors.length, 1, 'the hung close is reported');
    await pool.releaseAdapter(second, 'm', 'p');
    const closed = await Promise.race([pool.close().then(() => 'closed'), sleep(2000).then(() => 'hung')]);
    assert.equal(closed, 'closed');
  });

  test("regression: cleanup() left a key below its minimum when the room was held by another key's adapters it was closing", async () => {
    const pool = new AdapterPool<FakeAdapter>({
      createAdapter: async (key) => {
        const a = new FakeAdapter(key);
        const close = a.close.bind(a);
        a.close = async () => {
          await sleep(20);
          await close();
        };
        return a;
      },
      minPoolSize: 0,
      maxPoolSize: 4,
      maxTotal: 3,
      idleTimeoutMs: 10,
      keyOptions: { 'B:p': { minPoolSize: 2 } },
    } as ConstructorParameters<typeof AdapterPool<FakeAdapter>>[0]);
    const b = await pool.getAdapter('B', 'p');
    await pool.releaseAdapter(b, 'B', 'p');
    await sleep(5);
    const as = [];
    for (let i = 0; i < 3; i++) as.push(await pool.getAdapter('A', 'p'));
    for (const a of as) await pool.releaseAdapter(a, 'A', 'p');
    await sleep(60);
    await pool.cleanup();
    await sleep(200);
    assert.equal(pool.stats().pools['B:p']!.total, 2, "B is back at its minimum once A's expired adapters closed");
    await pool.close();
  });

  test('regression: a bad timeoutMs was only refused when the caller had to queue', async () => {
    const pool = new AdapterPool<FakeAdapter>({ createAdapter: factory().create, minPoolSize: 1 });
    await pool.start();
    for (const timeoutMs of [-1, Number.NaN, '5', null, {}, -Infinity]) {
      await assert.rejects(pool.getAdapter('m', 'p', { timeoutMs } as never), RangeError, String(timeoutMs));
    }
    assert.equal(pool.status().in_use_adapters, 0);
    await pool.close();
  });

  test('regression: stats read in a released listener counted the adapter in no state', async () => {
    const pool = new AdapterPool<FakeAdapter>({ createAdapter: factory().create, minPoolSize: 0, maxPoolSize: 2 });
    const seen: Array<{ total: number; available: number; in_use: number }> = [];
    pool.on('released', () => {
      const s = pool.stats().pools['m:p']!;
      seen.push({ total: s.total, available: s.available, in_use: s.in_use });
    });
    const a = await pool.getAdapter('m', 'p');
    await pool.releaseAdapter(a, 'm', 'p');
    assert.deepEqual(seen, [{ total: 1, available: 1, in_use: 0 }]);
    // Handed straight to a waiter: counted in use by the waiter once the listener runs.
    const [x] = [await pool.getAdapter('m', 'p'), await pool.getAdapter('m', 'p')];
    const waiting = pool.getAdapter('m', 'p', { timeoutMs: 1000 });
    await sleep(5);
    await pool.releaseAdapter(x, 'm', 'p');
    await waiting;
    const last = seen.at(-1)!;
    assert.equal(last.total, last.available + last.in_use, JSON.stringify(last));
    await pool.close();
  });
});

