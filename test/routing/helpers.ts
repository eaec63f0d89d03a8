import type { Deployment } from '../../src/routing/types.js';
import type { DeploymentView } from '../../src/routing/strategies/index.js';

export function dep(provider: string, weight = 1, priority = 0, model = 'm'): Deployment {
  return { key: `${model}:${provider}`, provider, model, weight, priority };
}

/** Deterministic PRNG (mulberry32) so randomised strategies give the same picks every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A view backed by plain maps, for strategy tests. */
export class FakeView implements DeploymentView {
  readonly inUse = new Map<string, number>();
  readonly max = new Map<string, number>();
  readonly latency = new Map<string, number>();
  readonly flight = new Map<string, number>();
  load(d: Deployment): number {
    return (this.inUse.get(d.key) ?? 0) / (this.max.get(d.key) ?? 10);
  }
  latencyMs(d: Deployment): number | undefined {
    return this.latency.get(d.key);
  }
  inFlight(d: Deployment): number {
    return this.flight.get(d.key) ?? 0;
  }
}

export function counts(picks: readonly Deployment[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of picks) out[p.provider] = (out[p.provider] ?? 0) + 1;
  return out;
}

export function longestRun(picks: readonly Deployment[], provider: string): number {
  let best = 0;
  let run = 0;
  for (const p of picks) {
    run = p.provider === provider ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best;
}
