import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdapterPool } from '../../src/pool/index.js';
import { createProviderAdapter, type ChatAdapter, type ProviderError } from '../../src/providers/index.js';
import { Router } from '../../src/routing/router.js';
import type { Deployment } from '../../src/routing/types.js';
import { chunk, sseHead, startUpstream, type Upstream } from './helpers.js';

/** The provider stream seen through the router: what its validation and its errors mean to routing. */
describe('provider streams through the router', () => {
  async function setup(handlers: Record<string, Parameters<typeof startUpstream>[0]>) {
    const ups: Record<string, Upstream> = {};
    for (const [name, h] of Object.entries(handlers)) ups[name] = await startUpstream(h);
    const deployments: Deployment[] = Object.keys(ups).map((provider, i) => ({ key: `m:${provider}`, provider, model: 'm', weight: 1, priority: i }));
    const pool = new AdapterPool<ChatAdapter>({
      createAdapter: async ({ model, provider }) => createProviderAdapter({ name: provider, type: 'openai', baseUrl: ups[provider]!.url, apiKey: 'sk-x' }, model),
      maxPoolSize: 2,
      minPoolSize: 0,
      healthCheckIntervalMs: 3_600_000,
      cleanupIntervalMs: 3_600_000,
    });
    await pool.start();
    const router = new Router({ pool, routing: { maxAttempts: 3, maxAttemptsPerDeployment: 1, circuitConsecutiveFailures: 3, circuitCooldownMs: 60_000 } });
    return {
      ups,
      deployments,
      router,
      async close() {
        router.close();
        await pool.close();
        for (const u of Object.values(ups)) await u.close();
      },
    };
  }
  const req = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }], stream: true };
  const text = async (frames: AsyncIterable<string | Uint8Array>) => {
    const out: Buffer[] = [];
    for await (const f of frames) out.push(Buffer.from(f));
    return Buffer.concat(out).toString();
  };

  it('an error frame as the upstream first event fails over to the next deployment before any byte reaches the client', async () => {
    const t = await setup({
      a: (_req, res) => {
        sseHead(res);
        res.end('data: {"error":{"message":"overloaded","type":"server_error","code":"overloaded"}}\n\n');
      },
      b: (_req, res) => {
        sseHead(res);
        res.end(`data: ${chunk({ role: 'assistant', content: 'from b' })}\n\ndata: [DONE]\n\n`);
      },
    });
    try {
      const r = await t.router.executeStrategy(req, t.deployments, 'failover');
      assert.equal(r.kind, 'stream');
      if (r.kind !== 'stream') return;
      assert.equal(r.deployment.provider, 'b');
      assert.equal(r.attempts, 2);
      assert.equal(await text(r.stream.sse()), `data: ${chunk({ role: 'assistant', content: 'from b' })}\n\ndata: [DONE]\n\n`);
    } finally {
      await t.close();
    }
  });

  it('#16 item 8: a malformed chunk after the first event counts as the deployment failure (its circuit opens after 3)', async () => {
    const t = await setup({
      a: (_req, res) => {
        sseHead(res);
        res.end(`data: ${chunk({ role: 'assistant', content: 'a' })}\n\ndata: {"choices":[{"delta":{"content":"x\n\ndata: [DONE]\n\n`);
      },
    });
    try {
      for (let i = 1; i <= 3; i++) {
        const r = await t.router.executeStrategy(req, t.deployments, 'failover');
        assert.equal(r.kind, 'stream');
        if (r.kind !== 'stream') return;
        await assert.rejects(text(r.stream.sse()), (e: ProviderError) => e.errorClass === 'bad_response');
        const h = t.router.deploymentHealth().find((d) => d.key === 'm:a')!;
        if (i < 3) assert.equal(h.consecutiveFailures, i);
        else assert.equal(h.circuit, 'open');
      }
    } finally {
      await t.close();
    }
  });
});
