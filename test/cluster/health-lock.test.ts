import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway, type RunningGateway } from '../server/helpers.js';
import { MACHINE_REDIS, uniquePrefix } from './helpers.js';

const INTERVAL_MS = 300;

function config(redis: string | undefined, prefix: string, id: string): string {
  return `
logging: { level: warn }
${redis === undefined ? '' : `cluster: { redis: "${redis}", prefix: "${prefix}", replicaId: "${id}" }`}
pool: { minPoolSize: 1, maxPoolSize: 2, healthCheckInterval: ${INTERVAL_MS}ms }
providers: { mock: { type: mock } }
models: { m: { providers: [{ provider: mock }] } }
`;
}

/** Count scheduled health-check rounds per gateway for `ms`. */
async function rounds(gws: RunningGateway[], ms: number): Promise<number[]> {
  const counts = gws.map(() => 0);
  const off = gws.map((g, i) => {
    const fn = () => void counts[i]!++;
    g.gw.pool.on('healthCheck', fn);
    return () => g.gw.pool.off('healthCheck', fn);
  });
  await sleep(ms);
  off.forEach((f) => f());
  return counts;
}

describe('cluster: scheduled health checks run on one replica at a time', () => {
  const gws: RunningGateway[] = [];
  const alone: RunningGateway[] = [];
  before(async () => {
    const prefix = uniquePrefix();
    for (const id of ['a', 'b', 'c']) gws.push(await startGateway(config(MACHINE_REDIS, prefix, id)));
    for (const id of ['x', 'y']) alone.push(await startGateway(config(undefined, '', id)));
    await sleep(300); // connected
  });
  after(async () => {
    await Promise.all([...gws, ...alone].map((g) => g.close()));
  });

  test('three replicas sharing a Redis run about one round per interval between them, not one each', async () => {
    const window = 3000;
    const shared = await rounds(gws, window);
    const total = shared.reduce((a, b) => a + b, 0);
    const perInterval = window / INTERVAL_MS;
    assert.ok(total <= perInterval + 2, `rounds across the fleet: ${total} (${shared.join(', ')}) for ${perInterval} intervals`);
    assert.ok(total >= perInterval / 3, `health checks still run (${total})`);

    // Without a cluster every process checks on its own timer.
    const own = await rounds(alone, window);
    for (const n of own) assert.ok(n >= perInterval - 3, `a lone gateway runs its own rounds (${n})`);
  });
});
