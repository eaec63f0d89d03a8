import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RedisLink, SharedLimiter } from '../../src/cluster/index.js';
import { MACHINE_REDIS, sleep, uniquePrefix } from './helpers.js';

/**
 * Regression: a key's `tpm` across replicas admitted far less than the limit. A lease holding part
 * of a reservation borrowed the whole reservation again (`max(demand, chunk)`, ignoring what it
 * held), and tokens a request did not use went back to its replica's lease and stayed there: with
 * `tpm: 300`, 50 tokens reserved and 15 used per request, 3 replicas admitted 10 requests (Redis
 * counted 300 taken, ~50 idle in each lease), 2 replicas 14, one process alone 17.
 */

const TPM = 300;
const RESERVED = 50;
const USED = 15;

async function fleetOf(n: number, prefix: string): Promise<{ links: RedisLink[]; limiters: SharedLimiter[] }> {
  const links = Array.from({ length: n }, () => new RedisLink({ url: MACHINE_REDIS, prefix, commandTimeoutMs: 1000, connectTimeoutMs: 1000 }));
  for (const l of links) l.connect();
  for (let i = 0; i < 100 && links.some((l) => !l.up); i++) await sleep(20);
  assert.ok(links.every((l) => l.up), 'every replica reached Redis');
  return { links, limiters: links.map((link) => new SharedLimiter({ link, liveReplicas: () => n })) };
}

/** `requests` round-robin over the replicas, one at a time: reserve 50, settle with 15 used. */
async function roundRobin(limiters: SharedLimiter[], requests: number): Promise<number> {
  let admitted = 0;
  for (let i = 0; i < requests; i++) {
    const a = await limiters[i % limiters.length]!.admit('key:team', { tpm: TPM }, RESERVED);
    if (!a.ok) continue;
    admitted++;
    a.reservation.settle(USED);
  }
  return admitted;
}

for (const n of [3, 2]) {
  describe(`cluster: a key's tpm across ${n} replicas admits close to the limit (regression: tokens stranded in leases)`, () => {
    const prefix = uniquePrefix();
    let fleet: { links: RedisLink[]; limiters: SharedLimiter[] };
    after(async () => {
      for (const l of fleet.limiters) l.close();
      await Promise.all(fleet.links.map((l) => l.close()));
      const admin = new Redis(MACHINE_REDIS);
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length > 0) await admin.del(...keys);
      admin.disconnect();
    });

    // One process alone admits 17 (it stops when fewer than 50 of the 300 are free: 17 × 15 = 255 used).
    // The documented tolerance is at most one lease (a tenth of a replica's share, ⌈300 ÷ n × 0.1⌉
    // tokens) idle per replica: n × that many more may be unusable, so at least 15 of the 17.
    test(`30 round-robin requests, tpm ${TPM}, ${RESERVED} reserved and ${USED} used each: at least 15 admitted, never more than one process alone`, async () => {
      fleet = await fleetOf(n, prefix);
      const admitted = await roundRobin(fleet.limiters, 30);
      const chunk = Math.ceil((TPM / n) * 0.1);
      const usable = TPM - n * chunk; // within the tolerance
      const floor = Math.floor((usable - RESERVED) / USED) + 1;
      assert.ok(admitted <= 17, `admitted ${admitted}: never past the limit`);
      assert.ok(admitted >= floor, `admitted ${admitted} (${admitted * USED} tokens used), expected at least ${floor}`);
      const admin = new Redis(MACHINE_REDIS);
      try {
        const keys = await admin.keys(`${prefix}rl:*`);
        assert.equal(keys.length, 1);
        const counted = Number(await admin.get(keys[0]!));
        assert.ok(counted <= TPM, `Redis counts ${counted}, never past the limit`);
      } finally {
        admin.disconnect();
      }
    });
  });
}
