import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { parseConfig, poolOptions } from '../../src/config/index.js';
import { AdapterPool } from '../../src/pool/index.js';
import { createProviderAdapter } from '../../src/providers/registry.js';
import type { ChatAdapter } from '../../src/providers/types.js';
import { createLogger } from '../../src/server/index.js';
import { ConfigReloader } from '../../src/server/live/reloader.js';
import { buildSnapshot, ConfigHolder, enter, leave } from '../../src/server/live/snapshot.js';
import { eventually } from '../server/helpers.js';

const yaml = (solo: string) => `providers:
  a: { type: mock }
  b: { type: mock }
models:
  chat: { providers: [{ provider: a, model: up-a }] }
${solo}`;

/**
 * The reloader with the real pool, whose adapters here take 300 ms to make (a library user's
 * createAdapter may do I/O). Requests are counted on their snapshot as the chat hooks count them.
 */
describe('ConfigReloader', () => {
  it('a deployment added back while its removal waited for old requests was drained anyway (the drain ran during the new pool\'s warm-up)', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }));
    const withSolo = parseConfig(yaml('  solo: { providers: [{ provider: b, model: up-b }] }'), { env: {} });
    const holder = new ConfigHolder(buildSnapshot(withSolo, 1, '127.0.0.1'));
    let slow = false;
    const pool = new AdapterPool<ChatAdapter>({
      ...poolOptions(withSolo),
      minPoolSize: 1,
      createAdapter: async ({ model, provider }) => {
        if (slow) await sleep(300);
        return createProviderAdapter(holder.providers.get(provider)!, model);
      },
    });
    await pool.start();
    const reloader = new ConfigReloader({ holder, pool, logger, file: undefined, factory: createProviderAdapter, host: '127.0.0.1' });
    try {
      // A request on version 1 holds one of solo's adapters.
      const v1 = holder.current;
      enter(v1);
      const lent = await pool.getAdapter('up-b', 'b');

      const removed = await reloader.apply(parseConfig(yaml(''), { env: {} }));
      assert.ok(removed.ok && removed.changed.pools.removed.includes('up-b:b'));

      // Added back, with a larger minimum: the reload waits for the new adapters.
      slow = true;
      const back = reloader.apply(parseConfig(yaml('  solo: { providers: [{ provider: b, model: up-b, pool: { minPoolSize: 3 } }] }'), { env: {} }));
      await eventually(() => (pool.keyState('up-b', 'b')?.creating ?? 0) > 0, 'the warm-up started');
      // Meanwhile the version-1 request ends: nothing on an old config uses up-b:b any more.
      await pool.releaseAdapter(lent, 'up-b', 'b');
      leave(v1);
      // A bound, not a timing target: before the fix the reload never answered (its warm-up waited on a drained pool).
      const r = await Promise.race([back, sleep(10_000, undefined, { ref: false })]);
      assert.ok(r !== undefined, 'the reload answered');
      assert.ok(r.ok && r.changed.pools.added.includes('up-b:b'), JSON.stringify(r));
      await reloader.drained();

      assert.ok(!lines.some((l) => /deployment pool up-b:b removed/.test(l)), 'the pool the running config routes to was not drained');
      const s = pool.keyState('up-b', 'b');
      assert.ok(s !== undefined && s.total >= 3, `up-b:b serves with its new minimum: ${JSON.stringify(s)}`);
      const a = await pool.getAdapter('up-b', 'b', { timeoutMs: 5000 });
      await pool.releaseAdapter(a, 'up-b', 'b');
    } finally {
      reloader.close();
      await pool.close();
    }
  });
});
