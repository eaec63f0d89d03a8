import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecuteResult } from '../../src/routing/types.js';
import { chat, harness, type Harness } from './harness.js';

function run(h: Harness, strategy: 'round_robin' | 'failover' = 'round_robin'): Promise<ExecuteResult> {
  return h.router.executeStrategy(chat(), h.deployments, strategy);
}

function circuitOf(h: Harness, provider: string): string {
  return h.router.deploymentHealth().find((d) => d.provider === provider)?.circuit ?? 'unknown';
}

describe('health-driven routing', () => {
  it('passive: consecutive failures open the circuit, traffic skips it, a probe after the cooldown closes it', async () => {
    const h = await harness({ routing: { circuitCooldownMs: 200, maxAttemptsPerDeployment: 1 } });
    try {
      const events: string[] = [];
      h.router.on('circuit_open', (e) => events.push(`open:${e.deployment.provider}`));
      h.router.on('circuit_half_open', (e) => events.push(`half:${e.deployment.provider}`));
      h.router.on('circuit_close', (e) => events.push(`close:${e.deployment.provider}`));
      h.up.a!.fault = '500';
      for (let i = 0; i < 6; i++) assert.equal((await run(h)).deployment.provider, 'b');
      assert.equal(h.up.a!.chatHits, 3, 'taken out after 3 consecutive failures');
      assert.equal(circuitOf(h, 'a'), 'open');
      const open = h.router.deploymentHealth().find((d) => d.provider === 'a')!;
      assert.ok(open.openedAt !== undefined && open.retryAfterMs! > 0 && open.retryAfterMs! <= 200);
      for (let i = 0; i < 10; i++) await run(h);
      assert.equal(h.up.a!.chatHits, 3, 'no traffic while open');

      h.up.a!.fault = 'ok';
      await sleep(250);
      const served: string[] = [];
      for (let i = 0; i < 10; i++) served.push((await run(h)).deployment.provider);
      assert.equal(circuitOf(h, 'a'), 'closed');
      assert.deepEqual(events, ['open:a', 'half:a', 'close:a']);
      assert.equal(served.filter((p) => p === 'a').length, 5, 'back in the rotation');
    } finally {
      await h.finish();
    }
  });

  it('half-open lets exactly one probe through; a failed probe re-opens for another cooldown', async () => {
    const h = await harness({ routing: { circuitCooldownMs: 200, maxAttemptsPerDeployment: 1 } });
    try {
      h.up.a!.fault = '500';
      for (let i = 0; i < 6; i++) await run(h);
      assert.equal(circuitOf(h, 'a'), 'open');
      const before = h.up.a!.chatHits;
      await sleep(250);
      h.up.a!.fault = 'slow';
      h.up.a!.slowMs = 150;
      h.up.a!.script = ['500']; // the probe fails, slowly enough to overlap the others
      const results = await Promise.all(Array.from({ length: 20 }, () => run(h)));
      assert.equal(h.up.a!.chatHits - before, 1, 'one probe only');
      assert.ok(results.every((r) => r.deployment.provider === 'b'));
      assert.equal(circuitOf(h, 'a'), 'open');
    } finally {
      await h.finish();
    }
  });

  it('failover strategy: tier 2 serves only while tier 1 is out, tier 1 takes over again when it recovers', async () => {
    const h = await harness({ routing: { circuitCooldownMs: 200, maxAttemptsPerDeployment: 1 } });
    try {
      for (let i = 0; i < 5; i++) assert.equal((await run(h, 'failover')).deployment.provider, 'a');
      h.up.a!.fault = 'reset';
      for (let i = 0; i < 5; i++) assert.equal((await run(h, 'failover')).deployment.provider, 'b');
      h.up.a!.fault = 'ok';
      await sleep(250);
      for (let i = 0; i < 5; i++) assert.equal((await run(h, 'failover')).deployment.provider, 'a');
    } finally {
      await h.finish();
    }
  });

  it("active: the pool's health check finding every adapter unhealthy opens the circuit; a recovery lets a probe through at once", async () => {
    const h = await harness({ routing: { circuitCooldownMs: 60_000 } });
    try {
      // Two adapters in a's pool.
      await Promise.all([run(h, 'failover'), run(h, 'failover')]);
      const ks = h.pool.keyState('up-model', 'a')!;
      assert.ok(ks.total >= 1);
      h.up.a!.modelsStatus = 503;
      await h.pool.healthCheck();
      assert.equal(h.pool.keyState('up-model', 'a')!.unhealthy, h.pool.keyState('up-model', 'a')!.total);
      assert.equal(circuitOf(h, 'a'), 'open');
      const hits = h.up.a!.chatHits;
      assert.equal((await run(h, 'failover')).deployment.provider, 'b');
      assert.equal(h.up.a!.chatHits, hits, 'skipped');

      h.up.a!.modelsStatus = 200;
      await h.pool.healthCheck();
      // Without the recovered event the 60 s cooldown would keep a out.
      assert.equal((await run(h, 'failover')).deployment.provider, 'a');
      assert.equal(circuitOf(h, 'a'), 'closed');
    } finally {
      await h.finish();
    }
  });

  it('a deployment whose adapters are all unhealthy is skipped even before its circuit knows', async () => {
    const h = await harness({ routing: { circuitCooldownMs: 60_000 } });
    try {
      await run(h, 'failover');
      // A second router on the same pool has never routed to `a`: it only sees the pool's state.
      const { Router } = await import('../../src/routing/router.js');
      const fresh = new Router({ pool: h.pool });
      h.up.a!.modelsStatus = 503;
      await h.pool.healthCheck();
      const hits = h.up.a!.chatHits;
      const r = await fresh.executeStrategy(chat(), h.deployments, 'failover');
      assert.equal(r.deployment.provider, 'b');
      assert.equal(h.up.a!.chatHits, hits);
      fresh.close();
    } finally {
      await h.finish();
    }
  });

  it('the windowed failure rate opens a circuit that consecutive failures alone would not', async () => {
    const h = await harness({
      routing: { circuitConsecutiveFailures: 100, circuitFailureRate: 0.4, circuitMinRequests: 10, circuitWindowMs: 10_000, maxAttemptsPerDeployment: 1 },
    });
    try {
      // Every other request to a fails: never 2 in a row, 50% over the window.
      h.up.a!.script = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? '500' : 'ok'));
      for (let i = 0; i < 40 && circuitOf(h, 'a') !== 'open'; i++) await run(h, 'failover');
      assert.equal(circuitOf(h, 'a'), 'open');
      const health = h.router.deploymentHealth().find((d) => d.provider === 'a')!;
      assert.ok(health.failureRate > 0.4, String(health.failureRate));
      assert.ok(health.consecutiveFailures <= 1);
    } finally {
      await h.finish();
    }
  });
});
