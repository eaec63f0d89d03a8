import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdapterPool } from '../../src/pool/index.js';
import type { DestroyReason } from '../../src/pool/types.js';
import { factory, sleep, type FakeAdapter } from './helpers.js';

function pool(f = factory()) {
  const destroyed: Array<{ id: number; reason: DestroyReason }> = [];
  const p = new AdapterPool<FakeAdapter>({ createAdapter: f.create, minPoolSize: 0, maxPoolSize: 4 });
  p.on('destroyed', (e) => destroyed.push({ id: e.adapter.id, reason: e.reason }));
  return { p, f, destroyed };
}

describe('AdapterPool.renewKey (live config: a provider\'s settings changed)', () => {
  it('renewKey: idle adapters close now, lent ones on release, a create under way is discarded; new ones come from createAdapter', async () => {
    const f = factory({ delayMs: 20 });
    const { p, destroyed } = pool(f);
    await p.start();
    const lent = await p.getAdapter('m', 'p');
    const idle = await p.getAdapter('m', 'p');
    await p.releaseAdapter(idle, 'm', 'p');
    p.setKeyOptions('m', 'p', { minPoolSize: 3 }); // starts a third create (20 ms)
    assert.equal(p.stats().pools['m:p']!.creating, 1);
    p.renewKey('m', 'p');
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
    assert.deepEqual(destroyed.filter((d) => d.reason === 'renewed').map((d) => d.id).sort(), [idle.id, stale!.id, lent.id].sort());
    await p.close();
  });

  it('a renewed adapter that was being health-checked closes instead of going back idle', async () => {
    const f = factory();
    const { p } = pool(f);
    await p.start();
    const a = await p.getAdapter('m', 'p');
    await p.releaseAdapter(a, 'm', 'p');
    let release!: () => void;
    a.healthCheck = () => new Promise<boolean>((r) => (release = () => r(true)));
    const run = p.healthCheck();
    await sleep(1);
    p.renewKey('m', 'p');
    assert.ok(!a.closed, 'not closed under its check');
    release();
    await run;
    await sleep(1);
    assert.ok(a.closed);
    await p.close();
  });
});
