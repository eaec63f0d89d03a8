import type { Deployment } from '../types.js';
import type { Strategy } from './types.js';

/**
 * Strict priority tiers: always the lowest `priority` among the candidates (which are the ones that
 * are up), rotating between deployments of that same tier. A lower tier is used only when the
 * router has removed every deployment of the higher ones (circuit open, all adapters unhealthy, or
 * already failed for this request).
 */
export class FailoverStrategy implements Strategy {
  readonly name = 'failover' as const;
  readonly strictPriority = true;
  private rotate = 0;

  pick(candidates: readonly Deployment[]): Deployment {
    let top = Infinity;
    let count = 0;
    for (let i = 0; i < candidates.length; i++) {
      const p = candidates[i]!.priority;
      if (p < top) {
        top = p;
        count = 1;
      } else if (p === top) count++;
    }
    let nth = this.rotate % count;
    this.rotate = (this.rotate + 1) % 0x3fffffff;
    for (let i = 0; i < candidates.length; i++) {
      const d = candidates[i]!;
      if (d.priority === top && nth-- === 0) return d;
    }
    return candidates[0]!;
  }
}
