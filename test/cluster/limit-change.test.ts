import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisLink, SharedLimiter } from '../../src/cluster/index.js';
import { MACHINE_REDIS, sleep, uniquePrefix } from './helpers.js';

/**
 * Regression: a key's limit lowered by a reload started a fresh window (the shared counter was
 * named after the limit), so a runaway key being tightened got the new limit again on top of what
 * it had used. The counter is the subject's; the new limit applies to the window under way.
 */
describe('cluster: a key limit changed by a reload applies to the window under way', () => {
  const prefix = uniquePrefix();
  const links = [0, 1].map(() => new RedisLink({ url: MACHINE_REDIS, prefix, commandTimeoutMs: 1000, connectTimeoutMs: 1000 }));
  let limiters: SharedLimiter[] = [];
  after(async () => {
    for (const l of limiters) l.close();
    await Promise.all(links.map((l) => l.close()));
    const admin = new Redis(MACHINE_REDIS);
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  });

  test('8 requests under rpm 100 on two replicas, then rpm 5: refused on both; raised to 10: two more in all', async () => {
    for (const l of links) l.connect();
    for (let i = 0; i < 100 && links.some((l) => !l.up); i++) await sleep(20);
    assert.ok(links.every((l) => l.up), 'both replicas reached Redis');
    limiters = links.map((link) => new SharedLimiter({ link, liveReplicas: () => 2 }));
    const admit = async (i: number, rpm: number) => (await limiters[i % 2]!.admit('key:alpha', { rpm }, 0)).ok;
    for (let i = 0; i < 8; i++) assert.equal(await admit(i, 100), true);
    assert.equal(await admit(0, 5), false, 'replica 0: 8 already in this window');
    assert.equal(await admit(1, 5), false, 'replica 1: 8 already in this window');
    let more = 0;
    for (let i = 0; i < 6; i++) if (await admit(i, 10)) more++;
    assert.equal(more, 2, 'rpm 10 with 8 used: two more, whichever replica');
  });
});
