import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecuteResult } from '../../src/routing/types.js';
import { assertNothingInUse, chat, harness, type Harness } from './harness.js';

interface BurstFigures {
  requests: number;
  failures: number;
  attempts: number;
  servedBy: Record<string, number>;
  brokenHits: number;
  ms: number;
}

/** `n` concurrent requests, every 4th a stream read to the end. */
async function burst(h: Harness, n: number): Promise<BurstFigures> {
  const hitsBefore = h.up.a!.chatHits;
  const t0 = Date.now();
  const one = async (i: number): Promise<ExecuteResult> => {
    const r = await h.router.executeStrategy(chat(i % 4 === 0), h.deployments, 'round_robin', undefined, { requestId: `burst-${i}` });
    if (r.kind === 'stream') for await (const _c of r.stream) void _c;
    return r;
  };
  const settled = await Promise.allSettled(Array.from({ length: n }, (_, i) => one(i)));
  const figures: BurstFigures = { requests: n, failures: 0, attempts: 0, servedBy: {}, brokenHits: h.up.a!.chatHits - hitsBefore, ms: Date.now() - t0 };
  for (const s of settled) {
    if (s.status === 'rejected') {
      figures.failures++;
      console.log('burst failure:', s.reason);
      continue;
    }
    figures.attempts += s.value.attempts;
    const p = s.value.deployment.provider;
    figures.servedBy[p] = (figures.servedBy[p] ?? 0) + 1;
  }
  return figures;
}

describe('burst: one broken and one healthy deployment', () => {
  it('no request fails; the broken one is ejected within a few requests and comes back after it recovers', async () => {
    const h = await harness({
      maxPoolSize: 8,
      routing: { circuitConsecutiveFailures: 3, circuitCooldownMs: 300, maxAttempts: 4, maxAttemptsPerDeployment: 2 },
    });
    try {
      let openedAt = 0;
      let closedAt = 0;
      let hitsAtEject = 0;
      h.router.on('circuit_open', (e) => {
        if (e.deployment.provider === 'a' && openedAt === 0) {
          openedAt = Date.now();
          hitsAtEject = h.up.a!.chatHits;
        }
      });
      h.router.on('circuit_close', (e) => {
        if (e.deployment.provider === 'a') closedAt = Date.now();
      });

      // Warm up: both deployments serve.
      const warm = await burst(h, 20);
      assert.equal(warm.failures, 0);
      assert.deepEqual(warm.servedBy, { a: 10, b: 10 });

      // Break a: every call answers 500.
      h.up.a!.fault = '500';
      const brokeAt = Date.now();
      const broken = await burst(h, 400);
      const timeToEjectMs = openedAt - brokeAt;
      assert.equal(broken.failures, 0, 'no request fails while one deployment is healthy');
      assert.ok(openedAt > 0, 'the broken deployment was ejected');
      // At most a pool's worth of calls were already on their way when the 3rd consecutive failure came back.
      assert.ok(hitsAtEject - warm.servedBy.a! <= 8 + 3, `upstream calls to a before ejection: ${hitsAtEject - warm.servedBy.a!}`);
      assert.equal(broken.servedBy.a ?? 0, 0);
      assertNothingInUse(h.pool, h.deployments);

      // Heal a: light traffic until a probe closes the circuit.
      h.up.a!.fault = 'ok';
      const healedAt = Date.now();
      for (let i = 0; i < 300 && closedAt === 0; i++) {
        await h.router.executeStrategy(chat(), h.deployments, 'round_robin');
        await sleep(10);
      }
      assert.ok(closedAt > 0, 'the deployment came back after the upstream recovered');
      const timeToRecoverMs = closedAt - healedAt;

      const recovered = await burst(h, 400);
      assert.equal(recovered.failures, 0);
      assert.ok(recovered.servedBy.a! >= 150, `a serves again: ${JSON.stringify(recovered.servedBy)}`);

      console.log(
        'BURST FIGURES',
        JSON.stringify({
          broken: {
            requests: broken.requests,
            failures: broken.failures,
            attempts: broken.attempts,
            attemptsPerRequest: +(broken.attempts / broken.requests).toFixed(3),
            servedBy: broken.servedBy,
            upstreamCallsToBroken: broken.brokenHits,
            upstreamCallsToBrokenBeforeEject: hitsAtEject - warm.servedBy.a!,
            timeToEjectMs,
            burstMs: broken.ms,
          },
          recovery: { timeToRecoverMs, ejectToRecoverMs: closedAt - openedAt, cooldownMs: 300 },
          afterRecovery: {
            requests: recovered.requests,
            failures: recovered.failures,
            attempts: recovered.attempts,
            servedBy: recovered.servedBy,
            burstMs: recovered.ms,
          },
        }),
      );
    } finally {
      await h.finish();
    }
  });

  it('a broken deployment that hangs (timeouts) instead of failing fast: still no failures', async () => {
    const h = await harness({
      maxPoolSize: 8,
      routing: { circuitConsecutiveFailures: 3, circuitCooldownMs: 5_000, maxAttempts: 4, maxAttemptsPerDeployment: 2 },
    });
    try {
      h.up.a!.fault = 'hang';
      const f = await burst(h, 300);
      assert.equal(f.failures, 0);
      assert.equal(f.servedBy.a ?? 0, 0);
      assert.ok(f.brokenHits <= 8 * 2 + 3, `calls to the hanging upstream: ${f.brokenHits}`);
      console.log('BURST FIGURES (hang)', JSON.stringify({ requests: f.requests, failures: f.failures, attempts: f.attempts, upstreamCallsToBroken: f.brokenHits, burstMs: f.ms }));
    } finally {
      await h.finish();
    }
  });
});
