import type { Deployment } from '../types.js';
import type { DeploymentView, Strategy } from './types.js';

/**
 * Fewest adapters in use relative to the pool's max. Ties (the common idle case) rotate, so an idle
 * gateway does not send everything to the first deployment.
 */
export class LeastConnectionsStrategy implements Strategy {
  readonly name = 'least_connections' as const;
  readonly strictPriority = false;
  private rotate = 0;

  pick(candidates: readonly Deployment[], view: DeploymentView): Deployment {
    const n = candidates.length;
    const start = this.rotate % n;
    this.rotate = (this.rotate + 1) % 0x3fffffff;
    let best = candidates[start]!;
    let bestLoad = view.load(best);
    for (let k = 1; k < n; k++) {
      const d = candidates[(start + k) % n]!;
      const load = view.load(d);
      if (load < bestLoad) {
        bestLoad = load;
        best = d;
      }
    }
    return best;
  }
}
