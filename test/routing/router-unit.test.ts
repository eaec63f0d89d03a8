import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AcquireTimeoutError, CreateFailedError } from '../../src/pool/errors.js';
import type { AcquireOptions } from '../../src/pool/types.js';
import { ProviderError } from '../../src/providers/errors.js';
import type { ChatAdapter, ChatCompletion } from '../../src/providers/types.js';
import type { PoolKeyState, RouterPool } from '../../src/routing/pool-port.js';
import { NoDeploymentAvailableError, Router } from '../../src/routing/router.js';
import { dep } from './helpers.js';

/** A pool stand-in whose behaviour per provider the test sets: lend, fail to create, or be full. */
class FakePool implements RouterPool {
  mode: Record<string, 'ok' | 'create_fails' | 'full'> = {};
  acquires: Array<{ provider: string; timeoutMs: number | undefined }> = [];
  inUse = 0;
  listeners = new Map<string, Set<unknown>>();
  reply: (provider: string) => Promise<ChatCompletion> = async (provider) => completion(provider);

  async getAdapter(model: string, provider: string, options?: AcquireOptions): Promise<ChatAdapter> {
    this.acquires.push({ provider, timeoutMs: options?.timeoutMs });
    const m = this.mode[provider] ?? 'ok';
    if (m === 'create_fails') throw new CreateFailedError(`${model}:${provider}`, new Error('bad config'));
    if (m === 'full') throw new AcquireTimeoutError(`${model}:${provider}`, options?.timeoutMs ?? 30_000);
    this.inUse++;
    return { provider, model, chatCompletion: () => this.reply(provider) } as unknown as ChatAdapter;
  }
  async releaseAdapter(): Promise<void> {
    this.inUse--;
  }
  keyState(): PoolKeyState | undefined {
    return undefined;
  }
  on(event: string, fn: unknown): void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
  }
  off(event: string, fn: unknown): void {
    this.listeners.get(event)?.delete(fn);
  }
}

function completion(provider: string): ChatCompletion {
  return { id: provider, object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: provider }, finish_reason: 'stop' }] };
}

const req = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

describe('Router with a fake pool', () => {
  it('a deployment whose adapters cannot be created counts as failed and is failed over', async () => {
    const pool = new FakePool();
    pool.mode.a = 'create_fails';
    const router = new Router({ pool, routing: { circuitConsecutiveFailures: 1 } });
    const r = await router.executeStrategy(req, [dep('a', 1, 0), dep('b', 1, 1)], 'failover');
    assert.equal(r.deployment.provider, 'b');
    assert.equal(r.attempts, 1, 'no upstream call was made on a');
    assert.equal(router.deploymentHealth().find((d) => d.provider === 'a')!.circuit, 'open');
    assert.equal(pool.inUse, 0);
    router.close();
  });

  it('every pool full: no-wait on all but the last, then waits on the first busy one; past its timeout a 503', async () => {
    const pool = new FakePool();
    pool.mode.a = 'full';
    pool.mode.b = 'full';
    const router = new Router({ pool });
    await assert.rejects(router.executeStrategy(req, [dep('a'), dep('b')], 'round_robin'), (e: unknown) => {
      assert.ok(e instanceof NoDeploymentAvailableError);
      assert.equal(e.status, 503);
      assert.match(e.message, /busy/);
      assert.ok(e.cause instanceof AcquireTimeoutError);
      return true;
    });
    assert.deepEqual(pool.acquires, [
      { provider: 'a', timeoutMs: 0 },
      { provider: 'b', timeoutMs: undefined },
    ]);
    router.close();
  });

  it('no deployments configured: 503 at once', async () => {
    const router = new Router({ pool: new FakePool() });
    await assert.rejects(router.executeStrategy(req, [], 'round_robin'), NoDeploymentAvailableError);
    router.close();
  });

  it('emits attempt / retry / failover / success events with the request id', async () => {
    const pool = new FakePool();
    let calls = 0;
    pool.reply = async (provider) => {
      calls++;
      if (provider === 'a') throw new ProviderError({ provider, status: 502, errorClass: 'network', message: 'reset' });
      return completion(provider);
    };
    const router = new Router({ pool, routing: { retryBackoffInitialMs: 1, retryBackoffMaxMs: 2 } });
    const seen: string[] = [];
    router.on('attempt', (e) => seen.push(`attempt:${e.deployment.provider}:${e.attempt}:${e.requestId}`));
    router.on('retry', (e) => seen.push(`retry:${e.deployment.provider}`));
    router.on('failover', (e) => seen.push(`failover:${e.from.provider}:${e.reason}`));
    router.on('success', (e) => seen.push(`success:${e.deployment.provider}:${e.attempts}`));
    const r = await router.executeStrategy(req, [dep('a', 1, 0), dep('b', 1, 1)], 'failover', undefined, { requestId: 'r1' });
    assert.equal(r.attempts, 3);
    assert.equal(calls, 3);
    assert.deepEqual(seen, ['attempt:a:1:r1', 'retry:a', 'attempt:a:2:r1', 'failover:a:error', 'attempt:b:3:r1', 'success:b:3']);
    assert.equal(pool.inUse, 0);
    router.close();
  });

  it('an already aborted signal: rejects as aborted without touching the pool', async () => {
    const pool = new FakePool();
    const router = new Router({ pool });
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(router.executeStrategy(req, [dep('a')], 'round_robin', undefined, { signal: ac.signal }), (e: unknown) => e instanceof ProviderError && e.status === 499);
    assert.equal(pool.acquires.length, 0);
    router.close();
  });

  it('the request time budget stops retries and failover', async () => {
    const pool = new FakePool();
    let t = 0;
    pool.reply = async (provider) => {
      t += 1_000; // every call takes 1 s of the fake clock
      throw new ProviderError({ provider, status: 500, errorClass: 'server_error', message: 'boom' });
    };
    const router = new Router({ pool, now: () => t, routing: { requestTimeoutMs: 1_500, maxAttempts: 10 } });
    await assert.rejects(router.executeStrategy(req, [dep('a'), dep('b')], 'round_robin'), ProviderError);
    assert.equal(pool.acquires.length, 2, 'a second call started within the budget, no third');
    router.close();
  });

  it('regression: lowest_latency never picked a deployment again after one slow spell (its latency was never measured again)', async () => {
    const pool = new FakePool();
    let t = 0;
    const latency: Record<string, number> = { a: 300, b: 1, c: 1 };
    pool.reply = async (provider) => {
      t += latency[provider]!;
      return completion(provider);
    };
    const router = new Router({ pool, now: () => t });
    const deps = [dep('a'), dep('b'), dep('c')];
    // Until a has been measured slow.
    for (let i = 0; i < 50 && router.deploymentHealth().find((d) => d.provider === 'a')?.ewmaLatencyMs === undefined; i++) {
      await router.executeStrategy(req, deps, 'lowest_latency');
    }
    assert.ok(router.deploymentHealth().find((d) => d.provider === 'a')!.ewmaLatencyMs! >= 300);
    latency.a = 1; // a is fast again
    const served: Record<string, number> = {};
    for (let i = 0; i < 600; i++) {
      t += 100; // a request every 100 ms: a minute of traffic
      const r = await router.executeStrategy(req, deps, 'lowest_latency');
      served[r.deployment.provider] = (served[r.deployment.provider] ?? 0) + 1;
    }
    assert.ok((served.a ?? 0) >= 60, `a was measured again and shares the load: ${JSON.stringify(served)}`);
    router.close();
  });

  it('regression: a deployment failing below the circuit thresholds skewed round robin (half the first picks, the rest 1:3) and failover sent every fallback to one backup', async () => {
    const calls = async (strategy: 'round_robin' | 'failover', deps: ReturnType<typeof dep>[], n: number) => {
      const pool = new FakePool();
      const hits: Record<string, number> = {};
      const served: Record<string, number> = {};
      pool.reply = async (provider) => {
        hits[provider] = (hits[provider] ?? 0) + 1;
        if (provider === 'a') throw new ProviderError({ provider, status: 500, errorClass: 'server_error', message: 'boom' });
        return completion(provider);
      };
      // The circuit never opens: a deployment that fails often, but not enough to be cut off.
      const router = new Router({ pool, routing: { maxAttempts: 3, maxAttemptsPerDeployment: 1, circuitConsecutiveFailures: 10_000, circuitMinRequests: 10_000 } });
      for (let i = 0; i < n; i++) {
        const r = await router.executeStrategy(req, deps, strategy);
        served[r.deployment.provider] = (served[r.deployment.provider] ?? 0) + 1;
      }
      router.close();
      return { hits, served };
    };
    const rr = await calls('round_robin', [dep('a'), dep('b'), dep('c')], 30);
    assert.deepEqual(rr.hits, { a: 10, b: 15, c: 15 }, 'a gets its third of the first picks; its requests alternate between b and c');
    const fo = await calls('failover', [dep('a', 1, 0), dep('b', 1, 1), dep('c', 1, 1)], 20);
    assert.deepEqual(fo.served, { b: 10, c: 10 }, 'the backup tier rotates');
  });

  it('close() stops listening to the pool', () => {
    const pool = new FakePool();
    const router = new Router({ pool });
    assert.equal(pool.listeners.get('unhealthy')!.size, 1);
    router.close();
    assert.equal(pool.listeners.get('unhealthy')!.size, 0);
    assert.equal(pool.listeners.get('recovered')!.size, 0);
  });
});
