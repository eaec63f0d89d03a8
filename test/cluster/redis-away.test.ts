import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { FakeUpstream } from '../routing/upstream.js';
import { startGateway, type RunningGateway } from '../server/helpers.js';
import { chat, OwnRedis, sleep, uniquePrefix } from './helpers.js';

function config(redis: string, prefix: string, id: string, bad: string, good: string): string {
  return `
logging: { level: info }
cluster: { redis: "${redis}", prefix: "${prefix}", replicaId: "${id}", snapshotInterval: 300ms, circuitPollInterval: 200ms }
pool: { minPoolSize: 0, maxPoolSize: 20, healthCheckInterval: 1h }
routing: { circuitConsecutiveFailures: 2, circuitCooldown: 3s, maxAttempts: 3, retryBackoffInitial: 1ms, retryBackoffMax: 2ms }
providers:
  bad:  { type: openai-compatible, baseUrl: "${bad}" }
  good: { type: openai-compatible, baseUrl: "${good}" }
  mock: { type: mock }
models:
  m:
    strategy: round_robin
    providers:
      - { provider: bad, model: up-model }
      - { provider: good, model: up-model }
  load:
    providers: [{ provider: mock }]
`;
}

async function statusOf(g: RunningGateway): Promise<{ mode: string }> {
  return ((await (await fetch(`${g.url}/v1/pool/status`)).json()) as { data: { mode: string } }).data;
}

async function until(cond: () => Promise<boolean>, what: string, limitMs: number): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`never happened: ${what}`);
    await sleep(100);
  }
}

describe('cluster: Redis away degrades, never errors', () => {
  let redis: OwnRedis;
  const bad = new FakeUpstream('bad');
  const good = new FakeUpstream('good');
  let a: RunningGateway;
  let b: RunningGateway;

  before(async () => {
    redis = await OwnRedis.start();
    await bad.listen();
    await good.listen();
    const prefix = uniquePrefix();
    a = await startGateway(config(redis.url, prefix, 'a', bad.url, good.url));
    b = await startGateway(config(redis.url, prefix, 'b', bad.url, good.url));
    await until(async () => (await statusOf(a)).mode === 'shared' && (await statusOf(b)).mode === 'shared', 'both replicas joined', 5000);
  });

  after(async () => {
    await a.close();
    await b.close();
    await redis.stop();
    await bad.close();
    await good.close();
  });

  test('Redis stopped under load (200 req/s for 10 s) and restarted empty: 0 failed requests, shared again by itself', async () => {
    const results: Array<number | string> = [];
    const inflight: Array<Promise<void>> = [];
    const started = Date.now();
    let i = 0;
    // 200 req/s by the clock, whatever the timer's granularity on a busy machine.
    const timer = setInterval(() => {
      const due = Math.floor(((Date.now() - started) / 1000) * 200);
      while (i < due) {
        const g = i++ % 2 === 0 ? a : b;
        inflight.push(chat(g.url, 'load').then((r) => void results.push(r.status), (e: Error) => void results.push(`${e.message}: ${String((e.cause as Error | undefined)?.message)}`)));
      }
    }, 10);
    await sleep(2000);
    await redis.stop();
    await until(async () => (await statusOf(a)).mode === 'local' && (await statusOf(b)).mode === 'local', 'both replicas noticed', 3000);
    await sleep(2000);
    await redis.start(); // empty: it keeps nothing on disk
    await sleep(Math.max(0, 10_000 - (Date.now() - started)));
    clearInterval(timer);
    await Promise.all(inflight);
    assert.ok(results.length >= 1500, `load ran (${results.length} requests)`);
    assert.deepEqual(results.filter((s) => s !== 200), [], 'every request served');
    assert.ok(a.logs.some((l) => l.includes('"event":"cluster_redis_down"')), 'the change of state is logged');
    assert.equal(a.logs.filter((l) => l.includes('"event":"cluster_redis_down"')).length, 1, 'once, not per failed command');

    await until(async () => (await statusOf(a)).mode === 'shared' && (await statusOf(b)).mode === 'shared', 'both rejoined', 5000);
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    assert.match(metrics, /^adapterpool_cluster_redis_up 1$/m);

    // Circuits are shared again: one replica's failures keep the other away within 1 s.
    for (const g of [a, b]) for (let k = 0; k < 2; k++) await chat(g.url, 'm');
    bad.fault = '500';
    for (let k = 0; k < 6; k++) assert.equal((await chat(a.url, 'm')).status, 200);
    const hits = bad.chatHits;
    await sleep(1000);
    for (let k = 0; k < 6; k++) assert.equal((await chat(b.url, 'm')).deployment, 'up-model:good');
    assert.equal(bad.chatHits, hits, 'the other replica avoids the deployment after the rejoin');
    bad.fault = 'ok';
  });

  test('Redis paused (CLIENT PAUSE) costs a request at most the command timeout', async () => {
    const admin = new Redis(redis.url);
    await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
    try {
      const t0 = performance.now();
      const r = await chat(a.url, 'load');
      const ms = performance.now() - t0;
      assert.equal(r.status, 200);
      assert.ok(ms < 1000, `served while Redis is paused for 3 s (${Math.round(ms)} ms)`);
      const status = await (await fetch(`${a.url}/v1/pool/status?scope=cluster`)).json() as { success: boolean };
      assert.equal(status.success, true, 'the fleet view degrades to this replica instead of failing');
    } finally {
      admin.disconnect();
    }
  });
});
