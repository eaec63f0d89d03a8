import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AcquireTimeoutError, AdapterPool, KeyRemovedError, poolKey, type HealthCheckResult } from '../../src/index.js';
import { FakeAdapter, factory, sleep } from './helpers.js';

function newPool(opts: Partial<ConstructorParameters<typeof AdapterPool<FakeAdapter>>[0]> = {}, f = factory()) {
  return { pool: new AdapterPool<FakeAdapter>({ createAdapter: f.create, ...opts }), f };
}

describe('poolKey', () => {
  test('builds model:provider, model ids with ":" included', () => {
    assert.equal(poolKey('llama3:8b', 'ollama'), 'llama3:8b:ollama');
  });
});

describe('the healthCheck event', () => {
  test('fires once per run with its result, also when a manual run joins a periodic one', async () => {
    const { pool } = newPool({ minPoolSize: 2, keys: [{ model: 'm', provider: 'p' }] });
    const seen: HealthCheckResult[] = [];
    pool.on('healthCheck', (e) => seen.push(e.result));
    await pool.start();
    const [a, b] = await Promise.all([pool.healthCheck(), pool.healthCheck()]);
    assert.equal(a, b, 'the second call joined the first run');
    assert.equal(seen.length, 1);
    assert.equal(seen[0], a);
    assert.equal(seen[0]!.checked, 2);
    await pool.healthCheck();
    assert.equal(seen.length, 2);
    await pool.close();
  });
});

describe('keys added, removed and resized while running', () => {
  test('addKey creates the new key\'s minimum with its own limits', async () => {
    const { pool } = newPool({ minPoolSize: 1 });
    await pool.start();
    pool.addKey({ model: 'm', provider: 'p' }, { minPoolSize: 3, maxPoolSize: 4 });
    await sleep(5);
    const s = pool.stats().pools['m:p']!;
    assert.deepEqual([s.model, s.provider, s.total, s.min_pool_size, s.max_pool_size], ['m', 'p', 3, 3, 4]);
    await pool.close();
  });

  test('removeKey lends nothing more, closes idle adapters now and lent ones when released, then resolves', async () => {
    const lines: string[] = [];
    const { pool, f } = newPool({ minPoolSize: 3, maxPoolSize: 3, logger: { info: (_o, msg) => lines.push(String(msg)) } });
    const held = await Promise.all([pool.getAdapter('m', 'p'), pool.getAdapter('m', 'p')]);
    await sleep(5); // the third (minimum) adapter is idle
    const idle = f.made.find((a) => !held.includes(a))!;
    let drained = false;
    const removing = pool.removeKey('m', 'p').then(() => {
      drained = true;
    });
    await assert.rejects(pool.getAdapter('m', 'p', { timeoutMs: 1000 }), KeyRemovedError);
    await sleep(5);
    assert.ok(idle.closed, 'the idle adapter closed at once');
    assert.ok(held.every((a) => !a.closed), 'never closed while in use');
    assert.equal(drained, false, 'two adapters are still lent');
    await pool.releaseAdapter(held[0]!, 'm', 'p');
    await sleep(5);
    assert.ok(held[0]!.closed, 'closed when it came back');
    assert.equal(drained, false);
    await pool.releaseAdapter(held[1]!, 'm', 'p');
    await removing;
    assert.ok(held[1]!.closed);
    assert.equal(pool.stats().pools['m:p'], undefined, 'the key is gone');
    assert.equal(f.made.length, 3, 'nothing was created for a removed key');
    assert.ok(lines.some((l) => l.includes('m:p') && /移除/.test(l)), `a log line names the removed key: ${lines.join(' | ')}`);
    await pool.close();
  });

  test('a key removed and then asked for again is a new key: it lends fresh adapters (the last-key cache does not serve the removed one)', async () => {
    const { pool, f } = newPool({ minPoolSize: 1, maxPoolSize: 2 });
    const a = await pool.getAdapter('m', 'p');
    await pool.releaseAdapter(a, 'm', 'p');
    await pool.removeKey('m', 'p');
    assert.equal(pool.stats().pools['m:p'], undefined);
    const b = await pool.getAdapter('m', 'p', { timeoutMs: 1000 });
    assert.notEqual(b, a, 'a new adapter');
    assert.ok(a.closed, 'the removed key\'s adapter closed');
    assert.equal(pool.stats().pools['m:p']?.in_use, 1, 'the key is back, lending');
    await pool.releaseAdapter(b, 'm', 'p');
    assert.ok(f.made.length >= 2);
    await pool.close();
  });

  test('removeKey rejects the callers queued on the key', async () => {
    const { pool } = newPool({ minPoolSize: 0, maxPoolSize: 1 });
    const held = await pool.getAdapter('m', 'p');
    const waiter = pool.getAdapter('m', 'p', { timeoutMs: 5000 });
    const removing = pool.removeKey('m', 'p');
    await assert.rejects(waiter, KeyRemovedError);
    await pool.releaseAdapter(held, 'm', 'p');
    await removing;
    assert.ok(held.closed);
    await pool.close();
  });

  test('setKeyOptions: a new maxUses applies to the adapters already there, a new acquireTimeout to the next wait', async () => {
    const { pool, f } = newPool({ minPoolSize: 0, maxPoolSize: 1, maxUses: 100, acquireTimeoutMs: 60_000 });
    const a = await pool.getAdapter('m', 'p');
    await pool.releaseAdapter(a, 'm', 'p');
    pool.setKeyOptions('m', 'p', { minPoolSize: 0, maxPoolSize: 1, maxUses: 2, acquireTimeoutMs: 50 });
    assert.equal(await pool.getAdapter('m', 'p'), a, 'kept: still valid under the new limits');
    await pool.releaseAdapter(a, 'm', 'p');
    assert.ok(a.closed, 'its second use reached the new maxUses');
    const held = await pool.getAdapter('m', 'p');
    assert.notEqual(held, a);
    // Under the old 60 s timeout this wait would outlast the 10 s bound; under the new 50 ms one it fails first.
    const bound = sleep(10_000, 'still waiting', { ref: false });
    assert.ok((await Promise.race([pool.getAdapter('m', 'p').catch((e: unknown) => e), bound])) instanceof AcquireTimeoutError);
    await pool.releaseAdapter(held, 'm', 'p');
    assert.equal(f.made.length, 2);
    await pool.close();
  });

  test('a shortened maxLifetime applied only to adapters made after it: the ones already there kept the old one', async () => {
    const { pool } = newPool({ minPoolSize: 0, maxPoolSize: 2, maxLifetimeMs: 3_600_000 });
    const idle = await pool.getAdapter('m', 'p');
    const lent = await pool.getAdapter('m', 'p');
    await pool.releaseAdapter(idle, 'm', 'p');
    await sleep(20);
    pool.setKeyOptions('m', 'p', { minPoolSize: 0, maxPoolSize: 2, maxLifetimeMs: 10 });
    await pool.cleanup();
    assert.ok(idle.closed, 'idle and past the new lifetime: closed by the next cleanup');
    assert.ok(!lent.closed, 'never one in use');
    await pool.releaseAdapter(lent, 'm', 'p');
    assert.ok(lent.closed, 'past the new lifetime: retired when it came back');
    // A longer lifetime keeps adapters longer.
    const fresh = await pool.getAdapter('m', 'p');
    await pool.releaseAdapter(fresh, 'm', 'p');
    pool.setKeyOptions('m', 'p', { minPoolSize: 0, maxPoolSize: 2, maxLifetimeMs: 3_600_000 });
    await sleep(20);
    await pool.cleanup();
    assert.ok(!fresh.closed, 'made under the 10 ms lifetime, kept under the new hour');
    await pool.close();
  });

  test('setKeyOptions shrinking maxPoolSize closes idle adapters first and never one in use', async () => {
    const { pool } = newPool({ minPoolSize: 4, maxPoolSize: 4 });
    await pool.start();
    pool.addKey({ model: 'm', provider: 'p' });
    await sleep(5);
    const held = await Promise.all([pool.getAdapter('m', 'p'), pool.getAdapter('m', 'p'), pool.getAdapter('m', 'p')]);
    pool.setKeyOptions('m', 'p', { maxPoolSize: 1, minPoolSize: 0 });
    await sleep(5);
    let s = pool.stats().pools['m:p']!;
    assert.equal(s.max_pool_size, 1);
    assert.equal(s.available, 0, 'the idle one closed');
    assert.equal(s.in_use, 3, 'lent ones stay lent');
    assert.ok(held.every((a) => !a.closed));
    for (const a of held) await pool.releaseAdapter(a, 'm', 'p');
    await sleep(5);
    s = pool.stats().pools['m:p']!;
    assert.equal(s.total, 1, 'released adapters above the new maximum were closed');
    assert.equal(held.filter((a) => a.closed).length, 2);
    // Growing the minimum creates the difference.
    pool.setKeyOptions('m', 'p', { maxPoolSize: 5, minPoolSize: 3 });
    await sleep(5);
    assert.equal(pool.stats().pools['m:p']!.total, 3);
    assert.throws(() => pool.setKeyOptions('m', 'p', { minPoolSize: 6, maxPoolSize: 5 }), RangeError);
    await pool.close();
  });
});

describe('an adapter whose close() throws before returning a promise', () => {
  // The pool closed such an adapter with `void adapter.close().catch(...)`: the throw escaped its
  // create handler, removeKey never resolved and the process saw an unhandled rejection.
  test('arriving for a removed key: removeKey still resolves and nothing is unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const made: Array<{ closeCalls: number }> = [];
      const pool = new AdapterPool({
        minPoolSize: 1,
        createAdapter: async () => {
          await sleep(30);
          const a = {
            closeCalls: 0,
            healthCheck: async () => true,
            close: (): Promise<void> => {
              a.closeCalls++;
              throw new Error('close threw synchronously');
            },
          };
          made.push(a);
          return a;
        },
      });
      pool.addKey({ model: 'm', provider: 'p' }); // its create is under way
      const removed = await Promise.race([pool.removeKey('m', 'p').then(() => 'resolved'), sleep(1000).then(() => 'hung')]);
      assert.equal(removed, 'resolved');
      assert.equal(made.length, 1);
      assert.equal(made[0]!.closeCalls, 1, 'the late adapter was closed');
      await sleep(10);
      assert.deepEqual(unhandled, []);
      await pool.close();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
