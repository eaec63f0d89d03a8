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
    for (let i = 0; i < candidates.length; i++) total += effectiveWeight(candidates[i]!);
    // All weights 0: treat them as equal weights of 1.
    const equal = total === 0;
    if (equal) total = candidates.length;
    let best = candidates[0]!;
    let bestCurrent = -Infinity;
    for (let i = 0; i < candidates.length; i++) {
      const d = candidates[i]!;
      const c = (this.current.get(d.key) ?? 0) + (equal ? 1 : effectiveWeight(d));
      this.current.set(d.key, c);
      if (c > bestCurrent) {
        bestCurrent = c;
        best = d;
      }
    }
    this.current.set(best.key, bestCurrent - total);
    return best;
  }
}

function effectiveWeight(d: Deployment): number {
  const w = d.weight;
  return Number.isFinite(w) && w > 0 ? w : 0;
}
