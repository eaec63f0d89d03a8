import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProviderError } from '../../src/providers/errors.js';
import { DeploymentsAtLimitError, type DeploymentAdmission } from '../../src/routing/admission.js';
import { Router, routeTrace } from '../../src/routing/router.js';
import type { Deployment, Route, StreamResult } from '../../src/routing/types.js';
import { chat, harness, MODEL, type Harness } from './harness.js';

function routeOf(h: Harness, strategy: Route['strategy'], name = MODEL): Route {
  return { name, strategy, deployments: h.deployments };
}

/** A body JSON.stringify cannot serialize: it throws RangeError in our process, before any byte leaves. */
function deeplyNested(depth = 20_000): unknown {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

describe('router.route(request, route, options)', () => {
  it('serves a completion and a stream, with attempts, the deployment and the latency (a stream\'s: time to first token)', async () => {
    const h = await harness();
    try {
      const c = await h.router.route(chat(), routeOf(h, 'failover'));
      assert.equal(c.kind, 'completion');
      assert.equal(c.deployment.provider, 'a');
      assert.equal(c.attempts, 1);
      assert.ok(c.latencyMs >= 0);
      h.up.a!.fault = 'slow';
      h.up.a!.slowMs = 60;
      const s = (await h.router.route(chat(true), routeOf(h, 'failover'))) as StreamResult;
      assert.equal(s.kind, 'stream');
      assert.ok(s.latencyMs >= 50, `time to first token measured (${s.latencyMs} ms)`);
      let chunks = 0;
      for await (const _ of s.stream) chunks++;
      assert.ok(chunks > 0);
    } finally {
      await h.finish();
    }
  });

  it('keeps strategy state per route name', async () => {
    const h = await harness();
    try {
      const picks = async (name: string) => (await h.router.route(chat(), routeOf(h, 'round_robin', name))).deployment.provider;
      assert.deepEqual([await picks('x'), await picks('x'), await picks('y'), await picks('x'), await picks('y')], ['a', 'b', 'a', 'a', 'b']);
    } finally {
      await h.finish();
    }
  });

  it('an error that ends a request tells how far it got (routeTrace)', async () => {
    const h = await harness({ routing: { maxAttempts: 3 } });
    try {
      h.up.a!.fault = '500';
      h.up.b!.fault = '500';
      const err = await h.router.route(chat(), routeOf(h, 'failover')).then(
        () => assert.fail('should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ProviderError);
      assert.deepEqual({ attempts: routeTrace(err)?.attempts, last: routeTrace(err)?.deployment?.provider }, { attempts: 3, last: 'b' });
    } finally {
      await h.finish();
    }
  });

  it('routeCall runs any adapter call through the same failover loop', async () => {
    const h = await harness();
    try {
      const seen: string[] = [];
      const r = await h.router.routeCall(routeOf(h, 'failover'), async (adapter) => {
        seen.push(adapter.provider);
        if (adapter.provider === 'a') throw new ProviderError({ provider: 'a', status: 503, errorClass: 'temporarily_unavailable', message: 'down' });
        return adapter.listModels();
      });
      assert.equal(r.deployment.provider, 'b');
      assert.equal(r.value[0]!.id, MODEL);
      assert.deepEqual(seen, ['a', 'a', 'b'], 'retried on a, then failed over');
      assert.equal(r.attempts, 3);
    } finally {
      await h.finish();
    }
  });
});

describe('regressions', () => {
  it('three deeply nested bodies open every circuit', async () => {
    const h = await harness();
    try {
      const request = { ...chat(), messages: [{ role: 'user', content: deeplyNested() }] } as unknown as ReturnType<typeof chat>;
      for (let i = 0; i < 3; i++) {
        const err = await h.router.route(request, routeOf(h, 'round_robin')).then(
          () => assert.fail('cannot be serialized'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof RangeError, `our own error is answered as ours, not as an upstream's (${String(err)})`);
        assert.equal(routeTrace(err)?.attempts, 1, 'no retry, no failover');
      }
      assert.equal(h.up.a!.chatHits + h.up.b!.chatHits, 0, 'no upstream saw a request');
      for (const d of h.router.deploymentHealth()) {
        assert.equal(d.circuit, 'closed', `${d.key} stays closed`);
        assert.equal(d.consecutiveFailures, 0);
      }
      const ok = await h.router.route(chat(), routeOf(h, 'round_robin'));
      assert.equal(ok.attempts, 1, 'every deployment still serves');
    } finally {
      await h.finish();
    }
  });

  it('a per-call routing config silently does not change circuit settings', async () => {
    const h = await harness({ routing: { circuitConsecutiveFailures: 5 } });
    try {
      h.up.a!.fault = '500';
      // The first call sets nothing about circuits; the second asks for circuits that open at one failure.
      await h.router.executeStrategy(chat(), h.deployments, 'failover', { maxAttempts: 1 }).catch(() => undefined);
      assert.equal(h.router.deploymentHealth().find((d) => d.provider === 'a')!.circuit, 'closed');
      await h.router.executeStrategy(chat(), h.deployments, 'failover', { maxAttempts: 1, circuitConsecutiveFailures: 1 }).catch(() => undefined);
      assert.equal(h.router.deploymentHealth().find((d) => d.provider === 'a')!.circuit, 'open', 'the deployment took the circuit settings it was given');
      // Per-call fields are honoured per call: one attempt allowed, then three.
      h.up.b!.fault = '500';
      const hits = () => h.up.a!.chatHits + h.up.b!.chatHits;
      const before = hits();
      await h.router.executeStrategy(chat(), h.deployments, 'round_robin', { maxAttempts: 1 }).catch(() => undefined);
      assert.equal(hits() - before, 1);
    } finally {
      await h.finish();
    }
  });
});

describe('requestTimeoutMs 0 (no budget)', () => {
  it('regression: a per-call requestTimeoutMs of 0 meant no budget for the call\'s timer but an expired deadline for retries: no failover', async () => {
    const h = await harness({ routing: { maxAttempts: 3 } });
    try {
      h.up.a!.fault = '500';
      const r = await h.router.executeStrategy(chat(), h.deployments, 'failover', { maxAttempts: 3, requestTimeoutMs: 0 });
      assert.equal(r.deployment.provider, 'b', 'failed over to the healthy deployment');
      assert.ok(r.attempts >= 2);
    } finally {
      await h.finish();
    }
  });
});

describe('admission (per-deployment request limits)', () => {
  class Limits implements DeploymentAdmission {
    full = new Map<string, number>();
    asked: string[] = [];
    admit(d: Deployment): true | { retryAfterMs: number } {
      this.asked.push(d.provider);
      const ms = this.full.get(d.provider);
      return ms === undefined ? true : { retryAfterMs: ms };
    }
  }

  it('a deployment at its limit is skipped like a full pool; all at their limit is a 429 with the earliest retry', async () => {
    const h = await harness();
    const limits = new Limits();
    const router = new Router({ pool: h.pool, admission: limits });
    try {
      limits.full.set('a', 5_000);
      const r = await router.route(chat(), routeOf(h, 'failover'));
      assert.equal(r.deployment.provider, 'b');
      assert.equal(r.attempts, 1, 'a skipped deployment is not an attempt');
      limits.full.set('b', 2_000);
      await assert.rejects(router.route(chat(), routeOf(h, 'failover')), (e: unknown) => e instanceof DeploymentsAtLimitError && e.status === 429 && e.retryAfterMs === 2_000);
      assert.equal(h.up.a!.chatHits, 0);
      assert.deepEqual(router.deploymentHealth().map((d) => d.circuit), ['closed', 'closed'], 'a limit is not a failure');
    } finally {
      router.close();
      await h.finish();
    }
  });
});

describe('saturation (issue 16 item 2)', () => {
  for (const strategy of ['round_robin', 'least_connections'] as const) {
    it(`under saturation ${strategy} queues everything on one deployment`, async () => {
      // 2 deployments x 2 adapters, all four lent to streams the test holds open; then 20 more requests
      // arrive one after another (as they do over HTTP), each while every pool is full. The bug: each
      // such request made two picks (the second with one candidate), so round robin's turn and
      // least_connections' tie rotation advanced twice and every waiter queued on the same deployment.
      const h = await harness({ maxPoolSize: 2, pool: { acquireTimeoutMs: 30_000 } });
      const held: StreamResult[] = [];
      const queued: Promise<string>[] = [];
      try {
        for (let i = 0; i < 4; i++) held.push((await h.router.route(chat(true), routeOf(h, strategy))) as StreamResult);
        const state = (p: string) => h.pool.keyState(MODEL, p)!;
        assert.deepEqual([state('a').inUse, state('b').inUse], [2, 2], 'both pools full');
        const waiting = () => state('a').waiting + state('b').waiting;
        for (let i = 0; i < 20; i++) {
          queued.push(
            (async () => {
              const r = (await h.router.route(chat(true), routeOf(h, strategy))) as StreamResult;
              for await (const _ of r.stream);
              return r.deployment.provider;
            })(),
          );
          // The next request arrives once this one queues.
          for (let spins = 0; waiting() < i + 1; spins++) {
            assert.ok(spins < 10_000, `request ${i + 1} never queued`);
            await new Promise((r) => setImmediate(r));
          }
        }
        const split = [state('a').waiting, state('b').waiting];
        assert.ok(split[0]! >= 8 && split[1]! >= 8, `waiters split between the deployments (a ${split[0]}, b ${split[1]})`);
        for (const s of held) for await (const _ of s.stream);
        held.length = 0;
        const served = await Promise.all(queued);
        const onA = served.filter((p) => p === 'a').length;
        assert.ok(onA >= 8 && served.length - onA >= 8, `both deployments served the queued requests (a ${onA}, b ${served.length - onA})`);
        assert.equal(h.up.a!.chatHits + h.up.b!.chatHits, 24, 'one upstream call per request');
      } finally {
        for (const s of held) for await (const _ of s.stream);
        await Promise.allSettled(queued);
        await h.finish();
      }
    });
  }
});
