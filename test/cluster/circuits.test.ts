import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FakeUpstream } from '../routing/upstream.js';
import { chat, MACHINE_REDIS, sleep, startReplica, uniquePrefix, type Replica } from './helpers.js';

const COOLDOWN_MS = 1500;

function config(prefix: string, bad: string, good: string, id: string): string {
  return `
server: { host: 127.0.0.1, port: 0 }
logging: { level: info }
cluster: { redis: "${MACHINE_REDIS}", prefix: "${prefix}", replicaId: "${id}", snapshotInterval: 300ms, snapshotTtl: 1500ms, circuitPollInterval: 200ms }
pool: { minPoolSize: 0, maxPoolSize: 4, healthCheckInterval: 1h }
routing: { circuitConsecutiveFailures: 2, circuitCooldown: ${COOLDOWN_MS}ms, maxAttempts: 3, retryBackoffInitial: 1ms, retryBackoffMax: 2ms }
providers:
  bad:  { type: openai-compatible, baseUrl: "${bad}" }
  good: { type: openai-compatible, baseUrl: "${good}" }
models:
  m:
    strategy: round_robin
    providers:
      - { provider: bad, model: up-model }
      - { provider: good, model: up-model }
`;
}

describe('cluster: 3 replica processes and one Redis', () => {
  const bad = new FakeUpstream('bad');
  const good = new FakeUpstream('good');
  const replicas: Replica[] = [];

  before(async () => {
    await bad.listen();
    await good.listen();
    const prefix = uniquePrefix();
    for (const id of ['r1', 'r2', 'r3']) replicas.push(await startReplica(config(prefix, bad.url, good.url, id)));
    await sleep(500); // every replica connected to Redis
  });

  after(async () => {
    await Promise.all(replicas.map((r) => r.stop()));
    await bad.close();
    await good.close();
  });

  test('a deployment failing on one replica is avoided by all three within 1 s, probed once, and recovered on all', async () => {
    const [r1, r2, r3] = replicas as [Replica, Replica, Replica];
    // Every replica has served the deployment, healthy.
    for (const r of replicas) for (let i = 0; i < 2; i++) assert.equal((await chat(r.url, 'm')).status, 200);
    assert.ok(bad.chatHits >= 3, 'round robin reached the first deployment on every replica');

    // It breaks; only r1 sees it (its circuit opens after 2 failures, failing over each time).
    bad.fault = '500';
    for (let i = 0; i < 6; i++) assert.equal((await chat(r1.url, 'm')).status, 200, 'failover keeps clients whole');
    const hitsAtOpen = bad.chatHits;
    await sleep(1000);

    // Within 1 s the other two avoid it without a request of their own.
    for (const r of [r2, r3]) {
      for (let i = 0; i < 6; i++) {
        const res = await chat(r.url, 'm');
        assert.equal(res.status, 200);
        assert.equal(res.deployment, 'up-model:good');
      }
    }
    assert.equal(bad.chatHits, hitsAtOpen, 'r2 and r3 sent nothing to the broken deployment');

    // It heals; after the cooldown a burst on all three replicas lets exactly one probe through.
    bad.fault = 'slow';
    bad.slowMs = 400;
    await sleep(COOLDOWN_MS + 100);
    const burst = await Promise.all(replicas.flatMap((r) => Array.from({ length: 6 }, () => chat(r.url, 'm'))));
    assert.ok(burst.every((res) => res.status === 200));
    assert.equal(bad.chatHits - hitsAtOpen, 1, 'one half-open probe for the whole fleet');

    // The probe succeeded: the circuit closes for all within 1 s, and each replica uses the deployment again.
    await sleep(1000);
    for (const r of replicas) {
      const seen = new Set<string | null>();
      for (let i = 0; i < 4; i++) seen.add((await chat(r.url, 'm')).deployment);
      assert.ok(seen.has('up-model:bad'), `${r.url} routes to the recovered deployment again`);
    }
  });

  test('the fleet view lists the 3 replicas with summed pools; a killed replica disappears within its TTL', async () => {
    const get = async (path: string) => (await (await fetch(`${replicas[0]!.url}${path}`)).json()) as { success: boolean; data: Record<string, unknown> & { replicas: Array<{ id: string; last_seen: string }> } };
    const status = await get('/v1/pool/status?scope=cluster');
    assert.equal(status.success, true);
    assert.equal(status.data.mode, 'shared');
    assert.deepEqual(status.data.replicas.map((r) => r.id), ['r1', 'r2', 'r3']);
    assert.equal(status.data.clustered, true);
    assert.equal(status.data.replica_id, 'r1');
    assert.deepEqual(status.data.replicas.map((r) => (r as { self?: boolean }).self), [true, false, false], 'the replica answering is marked');
    const local = await get('/v1/pool/status');
    assert.equal(local.data.mode, 'shared');
    assert.equal(status.data.total_pools, local.data.total_pools, 'the same two pools on every replica');
    assert.ok((status.data.total_adapters as number) >= (local.data.total_adapters as number), 'adapters summed over replicas');
    const stats = await get('/v1/pool/stats?scope=cluster');
    assert.equal(stats.data.replicas.length, 3);
    assert.equal(typeof (stats.data.pools as Record<string, { total: number }>)['up-model:good']?.total, 'number');

    replicas[2]!.child.kill('SIGKILL');
    await sleep(1500 + 700);
    const after = await get('/v1/pool/status?scope=cluster');
    assert.deepEqual(after.data.replicas.map((r) => r.id), ['r1', 'r2']);
  });
});
