import type { StrategyName } from '../types.js';
import { FailoverStrategy } from './failover.js';
import { LeastConnectionsStrategy } from './least-connections.js';
import { LowestLatencyStrategy } from './lowest-latency.js';
import { RoundRobinStrategy } from './round-robin.js';
import type { RandomSource, Strategy } from './types.js';
import { WeightedStrategy } from './weighted.js';

export type { DeploymentView, RandomSource, Strategy } from './types.js';
export { RoundRobinStrategy, WeightedStrategy, LeastConnectionsStrategy, LowestLatencyStrategy, FailoverStrategy };

export const STRATEGY_NAMES: readonly StrategyName[] = ['round_robin', 'weighted', 'least_connections', 'lowest_latency', 'failover'];

/** A fresh strategy instance (its state belongs to one model's deployment set). */
export function createStrategy(name: StrategyName, random: RandomSource = Math.random): Strategy {
  switch (name) {
    case 'round_robin':
      return new RoundRobinStrategy();
    case 'weighted':
      return new WeightedStrategy();
    case 'least_connections':
      return new LeastConnectionsStrategy();
    case 'lowest_latency':
      return new LowestLatencyStrategy(random);
    case 'failover':
      return new FailoverStrategy();
    default:
      throw new TypeError(`unknown routing strategy: ${String(name)}`);
  }
}
