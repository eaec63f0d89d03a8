import type { Deployment } from '../types.js';
import type { Strategy } from './types.js';

/**
 * Smooth weighted round robin (nginx): every pick adds each candidate's weight to its current
 * value, takes the largest, and subtracts the total from the winner. Deterministic, exact ratios
 * over every cycle of sum(weights) picks, and the heavy deployment's turns are interleaved with
 * the others instead of coming in one burst.
 */
export class WeightedStrategy implements Strategy {
  readonly name = 'weighted' as const;
  readonly strictPriority = false;
  /** Current weight per deployment key. Candidates outside the set of a pick keep theirs. */
  private readonly current = new Map<string, number>();

  pick(candidates: readonly Deployment[]): Deployment {
    let total = 0;
    let best: Deployment | undefined;
    let bestCurrent = -Infinity;
    for (let i = 0; i < candidates.length; i++) {
      const d = candidates[i]!;
      const w = effectiveWeight(d);
      total += w;
      const c = (this.current.get(d.key) ?? 0) + w;
      this.current.set(d.key, c);
      if (c > bestCurrent) {
        bestCurrent = c;
        best = d;
      }
    }
    // All weights 0: treat as equal weights of 1.
    if (total === 0) {
      for (let i = 0; i < candidates.length; i++) this.current.set(candidates[i]!.key, 0);
      return candidates[0]!;
    }
    this.current.set(best!.key, bestCurrent - total);
    return best!;
  }
}

function effectiveWeight(d: Deployment): number {
  const w = d.weight;
  return Number.isFinite(w) && w > 0 ? w : 0;
}
