import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StrategyName } from '../../src/routing/types.js';
import { chat, harness, type Harness } from './harness.js';

async function sequential(h: Harness, strategy: StrategyName, n: number): Promise<Record<string, number>> {
  const served: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await h.router.executeStrategy(chat(), h.deployments, strategy);
    served[r.deployment.provider] = (served[r.deployment.provider] ?? 0) + 1;
  }
  return served;
}

describe('strategies through the router, pool and real upstreams', () => {
  it('round_robin: equal shares', async () => {
    const h = await harness({ names: ['a', 'b', 'c'] });
    try {
      assert.deepEqual(await sequential(h, 'round_robin', 30), { a: 10, b: 10, c: 10 });
    } finally {
      await h.finish();
    }
  });

  it('weighted 3:1: exactly 30:10 over 40 requests, by upstream hit counts too', async () => {
    const h = await harness({ weights: [3, 1] });
    try {
      assert.deepEqual(await sequential(h, 'weighted', 40), { a: 30, b: 10 });
      assert.equal(h.up.a!.chatHits, 30);
      assert.equal(h.up.b!.chatHits, 10);
    } finally {
      await h.finish();
    }
  });

  it('weighted keeps its ratios when the server builds a new deployments array per request', async () => {
    const h = await harness({ weights: [2, 1] });
    try {
      const served: Record<string, number> = {};
      for (let i = 0; i < 30; i++) {
        const r = await h.router.executeStrategy(chat(), [...h.deployments], 'weighted');
        served[r.deployment.provider] = (served[r.deployment.provider] ?? 0) + 1;
      }
      assert.deepEqual(served, { a: 20, b: 10 });
    } finally {
      await h.finish();
    }
  });

  it('lowest_latency: a 100 ms upstream is measured, then left alone while the fast one is idle', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = 'slow';
      h.up.a!.slowMs = 100;
      const served = await sequential(h, 'lowest_latency', 30);
      assert.ok((served.a ?? 0) <= 2, JSON.stringify(served));
      const health = h.router.deploymentHealth();
      assert.ok(health.find((d) => d.provider === 'a')!.ewmaLatencyMs! > health.find((d) => d.provider === 'b')!.ewmaLatencyMs!);
    } finally {
      await h.finish();
    }
  });

  it('least_connections: a deployment that holds its adapters longer gets fewer of the concurrent requests', async () => {
    const h = await harness({ maxPoolSize: 16 });
    try {
      h.up.a!.fault = 'slow';
      h.up.a!.slowMs = 150;
      const served: Record<string, number> = {};
      // A request every 10 ms, none awaited before the next starts: a's adapters are still out (150 ms)
      // when later requests pick, b's are back within a few ms.
      const pending = [];
      for (let i = 0; i < 40; i++) {
        pending.push(
          h.router.executeStrategy(chat(), h.deployments, 'least_connections').then((r) => {
            served[r.deployment.provider] = (served[r.deployment.provider] ?? 0) + 1;
          }),
        );
        await sleep(10);
      }
      await Promise.all(pending);
      assert.equal(served.a! + served.b!, 40);
      assert.ok(served.b! > 2 * served.a!, JSON.stringify(served));
    } finally {
      await h.finish();
    }
  });
});
