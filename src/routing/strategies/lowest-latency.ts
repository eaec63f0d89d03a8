import type { Deployment } from '../types.js';
import type { DeploymentView, RandomSource, Strategy } from './types.js';

/**
 * Power of two choices over a load-weighted latency: draw two distinct candidates at random and take
 * the one with the lower cost, where cost = EWMA latency x (in flight + 1) (Finagle's P2C + EWMA).
 * Sampling two instead of scanning all keeps the slowest deployment out without every request
 * piling onto the fastest, and the in-flight factor makes the fastest one's cost rise as it fills,
 * which matters when there are only two. Unmeasured deployments cost 0 so they get sampled.
 */
export class LowestLatencyStrategy implements Strategy {
  readonly name = 'lowest_latency' as const;
  readonly strictPriority = false;
  private readonly random: RandomSource;

  constructor(random: RandomSource = Math.random) {
    this.random = random;
  }

  pick(candidates: readonly Deployment[], view: DeploymentView): Deployment {
    const n = candidates.length;
    if (n === 1) return candidates[0]!;
    const i = Math.min(n - 1, Math.floor(this.random() * n));
    let j = Math.min(n - 2, Math.floor(this.random() * (n - 1)));
    if (j >= i) j++;
    const a = candidates[i]!;
    const b = candidates[j]!;
    return cost(b, view) < cost(a, view) ? b : a;
  }
}

export function cost(d: Deployment, view: DeploymentView): number {
  return (view.latencyMs(d) ?? 0) * (view.inFlight(d) + 1);
}
