import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdapterPool } from '../../src/pool/index.js';
import { createProviderAdapter } from '../../src/providers/registry.js';
import type { ChatAdapter, ChatCompletionRequest, ProviderConfig } from '../../src/providers/types.js';
import { Router } from '../../src/routing/router.js';
import type { Deployment, RoutingConfig } from '../../src/routing/types.js';
import { FakeUpstream } from './upstream.js';

export const MODEL = 'up-model';

/** Small timeouts so a hang or slow first byte fails within the test's patience. */
export const TEST_TIMEOUTS = { connectMs: 500, firstByteMs: 400, idleMs: 400 };

/** Fast circuits and backoff so scenarios take milliseconds. */
export const TEST_ROUTING: Partial<RoutingConfig> = {
  maxAttempts: 4,
  maxAttemptsPerDeployment: 2,
  retryBackoffInitialMs: 5,
  retryBackoffMaxMs: 20,
  maxRetryAfterMs: 2_000,
  circuitConsecutiveFailures: 3,
  circuitCooldownMs: 300,
  circuitWindowMs: 2_000,
  circuitMinRequests: 20,
};

export interface Harness {
  up: Record<string, FakeUpstream>;
  deployments: Deployment[];
  pool: AdapterPool<ChatAdapter>;
  router: Router;
  /** Every pool key reports 0 in use; then router, pool and upstreams are closed and no socket is left open. */
  finish(): Promise<void>;
}

export interface HarnessOptions {
  names?: string[];
  priorities?: number[];
  weights?: number[];
  routing?: Partial<RoutingConfig>;
  maxPoolSize?: number;
  pool?: Partial<ConstructorParameters<typeof AdapterPool<ChatAdapter>>[0]>;
}

export async function harness(opts: HarnessOptions = {}): Promise<Harness> {
  const names = opts.names ?? ['a', 'b'];
  const up: Record<string, FakeUpstream> = {};
  const providers: Record<string, ProviderConfig> = {};
  for (const name of names) {
    up[name] = await new FakeUpstream(name).listen();
    providers[name] = { name, type: 'openai-compatible', baseUrl: up[name].url, apiKey: 'sk-test', timeouts: TEST_TIMEOUTS };
  }
  const deployments: Deployment[] = names.map((provider, i) => ({
    key: `${MODEL}:${provider}`,
    provider,
    model: MODEL,
    weight: opts.weights?.[i] ?? 1,
    priority: opts.priorities?.[i] ?? i,
  }));
  const pool = new AdapterPool<ChatAdapter>({
    createAdapter: async ({ model, provider }) => createProviderAdapter(providers[provider]!, model),
    maxPoolSize: opts.maxPoolSize ?? 8,
    minPoolSize: 0,
    acquireTimeoutMs: 10_000,
    healthCheckIntervalMs: 3_600_000,
    cleanupIntervalMs: 3_600_000,
    ...opts.pool,
  });
  await pool.start();
  const lifecycle = { created: 0, destroyed: 0 };
  pool.on('created', () => lifecycle.created++);
  pool.on('destroyed', () => lifecycle.destroyed++);
  const router = new Router({ pool, routing: { ...TEST_ROUTING, ...opts.routing } });

  return {
    up,
    deployments,
    pool,
    router,
    async finish() {
      try {
        assertNothingInUse(pool, deployments);
      } finally {
        router.close();
        await pool.close();
        assert.equal(lifecycle.destroyed, lifecycle.created, 'every adapter the pool created was closed');
        // The server sees a destroyed client socket a tick later.
        for (let i = 0; i < 50 && Object.values(up).some((u) => u.openSockets > 0); i++) await sleep(10);
        const open = Object.values(up).map((u) => `${u.name}:${u.openSockets}`);
        for (const u of Object.values(up)) await u.close();
        assert.deepEqual(open, names.map((n) => `${n}:0`), 'sockets left open after pool.close()');
      }
    },
  };
}

export function assertNothingInUse(pool: AdapterPool<ChatAdapter>, deployments: readonly Deployment[]): void {
  for (const d of deployments) {
    const s = pool.keyState(d.model, d.provider);
    assert.equal(s?.inUse ?? 0, 0, `${d.key} still has adapters in use`);
  }
  for (const [key, s] of Object.entries(pool.stats().pools)) assert.equal(s.in_use, 0, `${key} in use`);
}

export function chat(stream = false): ChatCompletionRequest {
  return { model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream };
}
