import type { Deployment, StrategyName } from '../types.js';

/** What a strategy may read about a deployment; the router's live view (pool state, latency stats). */
export interface DeploymentView {
  /** Adapters in use relative to the pool's max (0 = idle, 1 = full). */
  load(d: Deployment): number;
  /** Moving average of latency in ms; undefined until measured. */
  latencyMs(d: Deployment): number | undefined;
  /** Requests this router has in flight on the deployment. */
  inFlight(d: Deployment): number;
}

/**
 * A selection policy over one model's deployments. Pure: no I/O, deterministic given its own state,
 * the view and (for randomised ones) the injected random source.
 */
export interface Strategy {
  readonly name: StrategyName;
  /**
   * True when the strategy must not spill to a lower-priority deployment just because a higher one
   * is busy (full pool): only when it is down.
   */
  readonly strictPriority: boolean;
  /** Choose one of `candidates` (non-empty; every one of them is up and not yet tried by this request). */
  pick(candidates: readonly Deployment[], view: DeploymentView): Deployment;
}

export type RandomSource = () => number;
