import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProviderError } from '../../src/providers/errors.js';
import { NoDeploymentAvailableError } from '../../src/routing/router.js';
import type { CompletionResult } from '../../src/routing/types.js';
import { chat, harness } from './harness.js';

// `failover` with priorities a=0, b=1 makes the first choice deterministic: a.

async function complete(h: Awaited<ReturnType<typeof harness>>, signal?: AbortSignal): Promise<CompletionResult> {
  const r = await h.router.executeStrategy(chat(), h.deployments, 'failover', undefined, signal ? { signal } : undefined);
  assert.equal(r.kind, 'completion');
  return r as CompletionResult;
}

describe('router against failing loopback upstreams (non-stream)', () => {
  it('healthy first choice: one attempt, no extra work', async () => {
    const h = await harness();
    try {
      const r = await complete(h);
      assert.equal(r.deployment.provider, 'a');
      assert.equal(r.attempts, 1);
      assert.equal(r.completion.choices[0]!.message.content, 'hello from a');
      assert.equal(h.up.b!.chatHits, 0);
    } finally {
      await h.finish();
    }
  });

  it('500 once: backs off and retries the same deployment', async () => {
    const h = await harness();
    try {
      h.up.a!.script = ['500'];
      const retries: number[] = [];
      h.router.on('retry', (e) => retries.push(e.delayMs));
      const r = await complete(h);
      assert.equal(r.deployment.provider, 'a');
      assert.equal(r.attempts, 2);
      assert.equal(h.up.a!.chatHits, 2);
      assert.equal(retries.length, 1);
    } finally {
      await h.finish();
    }
  });

  it('500 every time: retries up to maxAttemptsPerDeployment, then fails over', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = '500';
      const failovers: string[] = [];
      h.router.on('failover', (e) => failovers.push(`${e.from.provider}:${e.reason}`));
      const r = await complete(h);
      assert.equal(r.deployment.provider, 'b');
      assert.equal(r.attempts, 3);
      assert.equal(h.up.a!.chatHits, 2);
      assert.deepEqual(failovers, ['a:error']);
    } finally {
      await h.finish();
    }
  });

  it('every deployment failing: the last upstream error after the attempt budget', async () => {
    const h = await harness({ routing: { maxAttempts: 3 } });
    try {
      h.up.a!.fault = '500';
      h.up.b!.fault = '500';
      await assert.rejects(complete(h), (e: unknown) => e instanceof ProviderError && e.status === 500 && e.provider === 'b');
      assert.equal(h.up.a!.chatHits + h.up.b!.chatHits, 3, 'maxAttempts bounds the upstream calls');
    } finally {
      await h.finish();
    }
  });

  it('429 with Retry-After on the only deployment: waits that long, then retries it', async () => {
    const h = await harness({ names: ['a'] });
    try {
      h.up.a!.script = ['429'];
      h.up.a!.retryAfterSeconds = 1;
      const delays: number[] = [];
      h.router.on('retry', (e) => delays.push(e.delayMs));
      const t0 = Date.now();
      const r = await complete(h);
      assert.equal(r.deployment.provider, 'a');
      assert.equal(r.attempts, 2);
      assert.ok(delays[0]! >= 1000 && delays[0]! <= 1100, `delay ${delays[0]}`);
      assert.ok(Date.now() - t0 >= 1000, 'the Retry-After was honoured');
    } finally {
      await h.finish();
    }
  });

  it('regression: a 429 with Retry-After waited it out and retried the same deployment while another could serve; fails over at once', async () => {
    for (const [status, retryAfterSeconds] of [['429', 2], ['429', undefined], ['503', 2]] as const) {
      const h = await harness({ routing: { maxAttempts: 4, maxAttemptsPerDeployment: 2 } });
      try {
        h.up.a!.script = [status, status];
        h.up.a!.retryAfterSeconds = retryAfterSeconds;
        const t0 = Date.now();
        const r = await complete(h);
        assert.equal(r.deployment.provider, 'b', `${status} ${retryAfterSeconds}`);
        assert.equal(h.up.a!.chatHits, 1, `${status} ${retryAfterSeconds}: a was not called again`);
        assert.ok(Date.now() - t0 < 1000, `${status} ${retryAfterSeconds}: no wait (${Date.now() - t0} ms)`);
      } finally {
        await h.finish();
      }
    }
  });

  it('429 with a Retry-After over maxRetryAfterMs: fails over at once instead of waiting', async () => {
    const h = await harness();
    try {
      h.up.a!.script = ['429'];
      h.up.a!.retryAfterSeconds = 120;
      const r = await complete(h);
      assert.equal(r.deployment.provider, 'b');
      assert.equal(r.attempts, 2);
      assert.equal(h.up.a!.chatHits, 1);
    } finally {
      await h.finish();
    }
  });

  it('a hang: bounded by the provider first-byte timeout, retried, then failed over', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = 'hang';
      const r = await complete(h);
      assert.equal(r.deployment.provider, 'b');
      assert.equal(r.attempts, 3);
      assert.equal(h.up.a!.chatHits, 2);
    } finally {
      await h.finish();
    }
  });

  it('a connection reset: retried on a fresh connection', async () => {
    const h = await harness();
    try {
      h.up.a!.script = ['reset'];
      const r = await complete(h);
      assert.equal(r.deployment.provider, 'a');
      assert.equal(r.attempts, 2);
    } finally {
      await h.finish();
    }
  });

  it('malformed JSON in a 200: retried, then failed over', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = 'malformed';
      const r = await complete(h);
      assert.equal(r.deployment.provider, 'b');
      assert.equal(h.up.a!.chatHits, 2);
    } finally {
      await h.finish();
    }
  });

  it('a body cut midway (non-stream): retried like a network error', async () => {
    const h = await harness();
    try {
      h.up.a!.script = ['cut'];
      const r = await complete(h);
      assert.equal(r.deployment.provider, 'a');
      assert.equal(r.attempts, 2);
    } finally {
      await h.finish();
    }
  });

  it('a slow first byte within the timeout is served; beyond it, fails over', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = 'slow';
      h.up.a!.slowMs = 60; // well inside firstByteMs 400, even on a loaded machine
      const r1 = await complete(h);
      assert.equal(r1.deployment.provider, 'a');
      assert.equal(r1.attempts, 1);
      // > firstByteMs 400, by a margin a loaded machine's late timers cannot close (1 s once lost that race).
      h.up.a!.slowMs = 2_000;
      const r2 = await complete(h);
      assert.equal(r2.deployment.provider, 'b');
    } finally {
      await h.finish();
    }
  });

  it('a client error (400) is never retried nor failed over', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = '400';
      await assert.rejects(complete(h), (e: unknown) => e instanceof ProviderError && e.status === 400 && e.errorClass === 'client_error');
      assert.equal(h.up.a!.chatHits, 1);
      assert.equal(h.up.b!.chatHits, 0);
      assert.equal(h.router.deploymentHealth().find((d) => d.key.endsWith(':a'))!.consecutiveFailures, 0, 'the caller\'s fault does not count');
    } finally {
      await h.finish();
    }
  });

  it('401: not retried, fails over, the adapter goes back unhealthy and the deployment is skipped afterwards', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = '401';
      const r = await complete(h);
      assert.equal(r.deployment.provider, 'b');
      assert.equal(h.up.a!.chatHits, 1);
      assert.equal(h.pool.keyState('up-model', 'a')!.unhealthy, 1, 'the pool stopped lending it');
      const health = h.router.deploymentHealth().find((d) => d.key.endsWith(':a'))!;
      assert.equal(health.circuit, 'open');
      await complete(h);
      assert.equal(h.up.a!.chatHits, 1, 'skipped while its circuit is open');
    } finally {
      await h.finish();
    }
  });

  it('the caller aborting during a hang: rejects at once as aborted, no failover, adapter released', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = 'hang';
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      // Had the router waited for the upstream timeout, it would have failed over to b and succeeded.
      await assert.rejects(complete(h, ac.signal), (e: unknown) => e instanceof ProviderError && e.errorClass === 'aborted');
      assert.equal(h.up.a!.chatHits, 1);
      assert.equal(h.up.b!.chatHits, 0);
      assert.equal(h.router.deploymentHealth()[0]!.consecutiveFailures, 0);
    } finally {
      await h.finish();
    }
  });

  it('every deployment down: 503 NoDeploymentAvailableError at once with Retry-After = earliest half-open', async () => {
    const h = await harness({ routing: { circuitCooldownMs: 5_000, circuitConsecutiveFailures: 2 } });
    try {
      h.up.a!.fault = '500';
      h.up.b!.fault = '500';
      await assert.rejects(complete(h), ProviderError); // 2 on a, 2 on b: both circuits open
      const hits = h.up.a!.chatHits + h.up.b!.chatHits;
      await assert.rejects(complete(h), (e: unknown) => {
        assert.ok(e instanceof NoDeploymentAvailableError);
        assert.equal(e.status, 503);
        assert.equal(e.model, 'up-model');
        assert.ok(e.retryAfterMs > 4_000 && e.retryAfterMs <= 5_000, `retryAfterMs ${e.retryAfterMs}`);
        return true;
      });
      assert.equal(h.up.a!.chatHits + h.up.b!.chatHits, hits, 'no upstream was called');
      assert.deepEqual(h.router.deploymentHealth().map((d) => d.circuit), ['open', 'open']);
    } finally {
      await h.finish();
    }
  });

  it('a full pool: spills to the next deployment instead of waiting', async () => {
    const h = await harness({ maxPoolSize: 1, weights: [100, 1] });
    try {
      h.up.a!.fault = 'slow';
      h.up.a!.slowMs = 200;
      const failovers: string[] = [];
      h.router.on('failover', (e) => failovers.push(`${e.from.provider}:${e.reason}`));
      // weighted 100:1 picks a for both; the second finds a's only adapter lent and goes to b.
      const run = () => h.router.executeStrategy(chat(), h.deployments, 'weighted');
      const [r1, r2] = await Promise.all([run(), run()]);
      assert.equal(r1.deployment.provider, 'a');
      assert.equal(r2.deployment.provider, 'b');
      assert.equal(r2.attempts, 1, 'a busy pool is not an attempt');
      assert.deepEqual(failovers, ['a:busy']);
    } finally {
      await h.finish();
    }
  });

  it('failover strategy: a busy tier-1 pool is waited for, not spilled to tier 2 (it is not down)', async () => {
    const h = await harness({ maxPoolSize: 1 });
    try {
      h.up.a!.fault = 'slow';
      h.up.a!.slowMs = 100;
      const [r1, r2] = await Promise.all([complete(h), complete(h)]);
      assert.equal(r1.deployment.provider, 'a');
      assert.equal(r2.deployment.provider, 'a');
      assert.equal(h.up.b!.chatHits, 0);
    } finally {
      await h.finish();
    }
  });
});

describe('failover events', () => {
  it('regression: a model with one deployment counted a failover (adapterpool_failovers_total) for every failed request, though nothing was moved anywhere', async () => {
    const h = await harness({ names: ['solo'], routing: { maxAttempts: 3, maxAttemptsPerDeployment: 1 } });
    try {
      h.up.solo!.fault = '500';
      const failovers: string[] = [];
      h.router.on('failover', (e) => failovers.push(`${e.from.provider}:${e.reason}`));
      await assert.rejects(h.router.route(chat(), { name: 'up-model', strategy: 'round_robin', deployments: h.deployments }), ProviderError);
      assert.deepEqual(failovers, []);
    } finally {
      await h.finish();
    }
  });

  it('a request that moves from a failing deployment to another is one failover, told when it moves', async () => {
    const h = await harness({ routing: { maxAttempts: 3, maxAttemptsPerDeployment: 1 } });
    try {
      h.up.a!.fault = '500';
      const failovers: string[] = [];
      h.router.on('failover', (e) => failovers.push(`${e.from.provider}:${e.reason}`));
      const r = await h.router.route(chat(), { name: 'up-model', strategy: 'failover', deployments: h.deployments });
      assert.equal(r.deployment.provider, 'b');
      assert.deepEqual(failovers, ['a:error']);
      // Both failing: a moved to b (one failover); b had nowhere to go.
      failovers.length = 0;
      h.up.b!.fault = '500';
      await assert.rejects(h.router.route(chat(), { name: 'up-model', strategy: 'failover', deployments: h.deployments }), ProviderError);
      assert.deepEqual(failovers, ['a:error']);
    } finally {
      await h.finish();
    }
  });
});
