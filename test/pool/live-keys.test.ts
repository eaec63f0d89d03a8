import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdapterPool } from '../../src/pool/index.js';
import type { DestroyReason } from '../../src/pool/types.js';
import { factory, sleep, type FakeAdapter } from './helpers.js';

const K = { model: 'm', provider: 'p' };

function pool(f = factory(), extra: Partial<ConstructorParameters<typeof AdapterPool<FakeAdapter>>[0]> = {}) {
  const destroyed: Array<{ id: number; reason: DestroyReason }> = [];
  const p = new AdapterPool<FakeAdapter>({ createAdapter: f.create, minPoolSize: 0, maxPoolSize: 4, ...extra });
  p.on('destroyed', (e) => destroyed.push({ id: e.adapter.id, reason: e.reason }));
  return { p, f, destroyed };
}

describe('AdapterPool: keys changed while it lends (a reloaded config)', () => {
  it('addKey creates the key with its limits and resolves once its minimum is warm', async () => {
    const { p, f } = pool();
    await p.start();
    await p.addKey(K, { minPoolSize: 3, maxPoolSize: 5 });
    const s = p.stats().pools['m:p']!;
    assert.equal(s.total, 3);
    assert.equal(s.max_pool_size, 5);
    assert.equal(f.made.length, 3);
    await p.addKey(K, { minPoolSize: 1, maxPoolSize: 5 });
    assert.equal(p.stats().pools['m:p']!.min_pool_size, 1, 'an existing key takes the new limits');
    assert.equal(p.stats().pools['m:p']!.total, 3, 'and keeps its adapters');
    await assert.rejects(p.addKey({ model: 'x', provider: 'p' }, { minPoolSize: 6, maxPoolSize: 5 }), /minPoolSize \(6\) must not be greater than maxPoolSize \(5\)/);
    await p.close();
  });

  it('setKeyLimits shrinking: idle adapters close first, oldest first; one in use is never closed, it retires on release', async () => {
    const { p, destroyed } = pool();
    await p.start();
    const held = [await p.getAdapter('m', 'p'), await p.getAdapter('m', 'p'), await p.getAdapter('m', 'p'), await p.getAdapter('m', 'p')];
    for (const a of held) a.holders++;
    // Give two back: idle = [held[0], held[1]] (held[0] the older).
    for (const a of held.slice(0, 2)) {
      a.holders--;
      await p.releaseAdapter(a, 'm', 'p');
    }
    p.setKeyLimits(K, { maxPoolSize: 1 });
    await sleep(1);
    assert.deepEqual(destroyed.map((d) => d.reason), ['resized', 'resized']);
    assert.deepEqual(destroyed.map((d) => d.id), [held[0]!.id, held[1]!.id]);
    assert.ok(!held[2]!.closed && !held[3]!.closed, 'in-use adapters stay open');
    assert.equal(p.stats().pools['m:p']!.in_use, 2);
    held[2]!.holders--;
    await p.releaseAdapter(held[2]!, 'm', 'p');
    await sleep(1);
    assert.ok(held[2]!.closed, 'over the new maximum: closed when released');
    held[3]!.holders--;
    await p.releaseAdapter(held[3]!, 'm', 'p');
    await sleep(1);
    assert.ok(!held[3]!.closed, 'at the maximum: kept');
    assert.equal(p.stats().pools['m:p']!.total, 1);
    await p.close();
  });

  it('setKeyLimits growing serves a waiter at once; a lower maxUses retires adapters past it', async () => {
    const { p } = pool(factory(), { maxPoolSize: 1 });
    await p.start();
    const a = await p.getAdapter('m', 'p');
    const waiting = p.getAdapter('m', 'p', { timeoutMs: 5_000 });
    await sleep(5);
    p.setKeyLimits(K, { maxPoolSize: 2 });
    const b = await waiting;
    assert.notEqual(a, b);
    await p.releaseAdapter(b, 'm', 'p');
    p.setKeyLimits(K, { maxPoolSize: 2, maxUses: 1 });
    await sleep(1);
    assert.ok(b.closed, 'an idle adapter already past the new maxUses closes');
    await p.releaseAdapter(a, 'm', 'p');
    await sleep(1);
    assert.ok(a.closed, 'a lent one past it retires on release');
    await p.close();
  });

  it('renewKey: idle adapters close now, lent ones on release, a create under way is discarded; new ones come from createAdapter', async () => {
    const f = factory({ delayMs: 20 });
    const { p, destroyed } = pool(f);
    await p.start();
    const lent = await p.getAdapter('m', 'p');
    const idle = await p.getAdapter('m', 'p');
    await p.releaseAdapter(idle, 'm', 'p');
    p.setKeyLimits(K, { minPoolSize: 3 }); // starts a third create (20 ms)
    assert.equal(p.stats().pools['m:p']!.creating, 1);
    p.renewKey(K);
    await sleep(1);
    assert.ok(idle.closed, 'idle: closed at once');
    assert.ok(!lent.closed, 'lent: kept while in use');
    await sleep(120);
    const [, , stale, ...fresh] = f.made;
    assert.ok(stale!.closed, 'the create under way when renewed is closed on arrival, never lent');
    assert.ok(fresh.length >= 2 && fresh.every((a) => !a.closed), 'adapters made after the renewal stay');
    await p.releaseAdapter(lent, 'm', 'p');
    await sleep(1);
    assert.ok(lent.closed, 'the lent one retires on release');
    assert.deepEqual(destroyed.filter((d) => d.reason === 'renewed').map((d) => d.id).sort(), [idle.id, lent.id].sort());
    await p.close();
  });

  it('removeKey drains: nothing more is lent from it, idle adapters close now, a lent one when released, then it resolves', async () => {
    const { p } = pool();
    await p.start();
    const lent = await p.getAdapter('m', 'p');
    const idle = await p.getAdapter('m', 'p');
    await p.releaseAdapter(idle, 'm', 'p');
    let done = false;
    const removal = p.removeKey(K).then(() => {
      done = true;
    });
    await sleep(1);
    assert.ok(idle.closed);
    assert.ok(!lent.closed);
    assert.equal(done, false, 'waits for the lent adapter');
    assert.equal(p.stats().pools['m:p'], undefined, 'gone from the reports');
    await p.releaseAdapter(lent, 'm', 'p');
    await removal;
    assert.ok(lent.closed);
    assert.equal(p.status().in_use_adapters, 0);
    // The key can come back, fresh.
    await p.addKey(K, { minPoolSize: 1 });
    assert.equal(p.stats().pools['m:p']!.total, 1);
    await p.close();
  });

  it('close() during a removal still closes the removed key\'s lent adapters', async () => {
    const { p } = pool(factory(), { closeTimeoutMs: 10 });
    await p.start();
    const lent = await p.getAdapter('m', 'p');
    const removal = p.removeKey(K);
    await p.close();
    assert.ok(lent.closed);
    await Promise.race([removal, sleep(100)]);
  });
});
