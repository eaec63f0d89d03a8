import type { Deployment } from '../types.js';
import type { Strategy } from './types.js';

/** Each candidate in turn. */
export class RoundRobinStrategy implements Strategy {
  readonly name = 'round_robin' as const;
  readonly strictPriority = false;
  private next = 0;

  pick(candidates: readonly Deployment[]): Deployment {
    const i = this.next % candidates.length;
    this.next = (this.next + 1) % 0x3fffffff;
    return candidates[i]!;
  }
}
