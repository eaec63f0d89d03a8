import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { SharedLimiter } from '../../src/cluster/index.js';
import { startGateway, type RunningGateway } from '../server/helpers.js';
import { chat, freePort, MACHINE_REDIS, PausableRelay, sleep, uniquePrefix } from './helpers.js';

const KEY = 'sk-team-search-0123456789';

/** `commandTimeout: 300ms`, so that a request paying it stands out from one that does not on a busy machine. */
function config(redis: string, prefix: string, id: string): string {
  return `
logging: { level: info }
usage: { enabled: false }
cluster: { redis: "${redis}", prefix: "${prefix}", replicaId: "${id}", snapshotInterval: 200ms, circuitPollInterval: 200ms, commandTimeout: 300ms, connectTimeout: 500ms }
auth:
  keys:
    - { name: search-team, key: "${KEY}", rpm: 20 }
providers: { mock: { type: mock } }
models: { m: { providers: [{ provider: mock }] } }
`;
}

async function json(url: string): Promise<any> {
  return (await (await fetch(url, { headers: { authorization: `Bearer ${KEY}` } })).json() as { data: unknown }).data;
}

async function until(cond: () => Promise<boolean> | boolean, what: string, limitMs: number): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await sleep(50);
  }
}

const events = (g: RunningGateway, name: string) => g.logs.filter((l) => l.includes(`"event":"${name}"`)).length;
const redisUp = async (g: RunningGateway) => /^adapterpool_cluster_redis_up (\d)$/m.exec(await (await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text())?.[1];

/**
 * Regression: a Redis that accepts connections but never answers was never detected. Every request
 * of a key with limits paid the full `commandTimeout`, `adapterpool_cluster_redis_up` stayed 1, no
 * `cluster_redis_down` was logged, and `/v1/pool/status` said shared while `?scope=cluster` said local.
 */
describe('cluster: a Redis that hangs (connection open, no answers) counts as down, and up again when it answers', () => {
  let relay: PausableRelay;
  let g: RunningGateway;
  before(async () => {
    relay = await PausableRelay.start(MACHINE_REDIS);
    g = await startGateway(config(relay.url(MACHINE_REDIS), uniquePrefix(), 'hang'));
    await until(async () => (await json(`${g.url}/v1/pool/status`)).mode === 'shared', 'joined', 5000);
  });
  after(async () => {
    relay.resume();
    await g.close();
    await relay.close();
  });

  test('paused relay: logged once as cluster_redis_down, metric 0, mode local everywhere, requests stop paying the timeout; resumed: up again by itself', async () => {
    assert.equal((await chat(g.url, 'm', KEY)).status, 200);
    relay.pause();
    // The requests that meet the hang first may pay the timeout; then the link is down.
    for (let i = 0; i < 25; i++) assert.ok([200, 429].includes((await chat(g.url, 'm', KEY)).status));
    await until(async () => (await json(`${g.url}/v1/pool/status`)).mode === 'local', 'the hang is noticed', 3000);
    assert.equal(events(g, 'cluster_redis_down'), 1, 'logged once');
    assert.equal(await redisUp(g), '0');
    assert.equal((await json(`${g.url}/v1/pool/status?scope=cluster`)).mode, 'local');

    // Limits now run on the local share: no request waits for Redis.
    const times: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const r = await chat(g.url, 'm', KEY);
      times.push(performance.now() - t0);
      assert.ok(r.status === 200 || r.status === 429, `status ${r.status}`);
    }
    times.sort((a, b) => a - b);
    assert.ok(times[5]! < 150, `median ${Math.round(times[5]!)} ms: requests no longer pay the 300 ms command timeout (${times.map(Math.round).join(', ')})`);
    assert.equal(events(g, 'cluster_redis_down'), 1, 'still once, not per failed command');

    relay.resume();
    await until(async () => (await json(`${g.url}/v1/pool/status`)).mode === 'shared', 'back up once Redis answers', 3000);
    assert.equal(events(g, 'cluster_redis_up'), 2, 'the start and the return');
    assert.equal(await redisUp(g), '1');
    assert.equal((await json(`${g.url}/v1/pool/status?scope=cluster`)).mode, 'shared');
  });
});

/**
 * Regression: a replica started while Redis was down logged nothing (the link starts down and only
 * changes of state were logged). A replica that never saw the fleet counts itself alone: its local
 * share is the whole limit.
 */
describe('cluster: a replica started while Redis is down says so', () => {
  const gws: RunningGateway[] = [];
  let relay: PausableRelay | undefined;
  after(async () => {
    relay?.resume();
    await Promise.all(gws.map((g) => g.close()));
    await relay?.close();
  });

  test('Redis refusing connections at start: cluster_redis_down logged once, metric 0, mode local, the whole limit is its share', async () => {
    const g = await startGateway(config(`redis://127.0.0.1:${await freePort()}`, uniquePrefix(), 'closed'));
    gws.push(g);
    await until(() => events(g, 'cluster_redis_down') > 0, 'cluster_redis_down at start', 3000);
    const line = JSON.parse(g.logs.find((l) => l.includes('"event":"cluster_redis_down"'))!) as { since_start?: boolean };
    assert.equal(line.since_start, true);
    assert.equal(await redisUp(g), '0');
    assert.equal((await json(`${g.url}/v1/pool/status`)).mode, 'local');
    assert.equal((g.gw.limiter as SharedLimiter).liveReplicas, 1, 'never saw the fleet: counts itself alone');
    const results = await Promise.all(Array.from({ length: 30 }, () => chat(g.url, 'm', KEY)));
    assert.equal(results.filter((r) => r.status === 200).length, 20, 'rpm 20 ÷ 1 replica');
    await sleep(1500); // reconnection attempts go on: still one line
    assert.equal(events(g, 'cluster_redis_down'), 1, 'once, not per reconnection attempt');
  });

  test('Redis hanging at start (connection accepted, nothing answered): cluster_redis_down logged after the connect timeout; up once it answers', async () => {
    relay = await PausableRelay.start(MACHINE_REDIS);
    relay.pause();
    const g = await startGateway(config(relay.url(MACHINE_REDIS), uniquePrefix(), 'hung'));
    gws.push(g);
    await until(() => events(g, 'cluster_redis_down') > 0, 'cluster_redis_down at start', 3000);
    assert.equal(await redisUp(g), '0');
    assert.equal((await chat(g.url, 'm', KEY)).status, 200);
    relay.resume();
    await until(async () => (await json(`${g.url}/v1/pool/status`)).mode === 'shared', 'up once Redis answers', 5000);
    assert.equal(events(g, 'cluster_redis_up'), 1);
    assert.equal(events(g, 'cluster_redis_down'), 1);
  });
});

