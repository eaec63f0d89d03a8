import { CircuitBreaker, type CircuitState } from './circuit-breaker.js';
import type { Deployment, RoutingConfig } from './types.js';

/** Weight of the newest sample in the latency moving average. */
export const EWMA_ALPHA = 0.3;

/** What the router knows about one deployment (shared by every model group that routes to it). */
export class DeploymentState {
  readonly deployment: Deployment;
  readonly breaker: CircuitBreaker;
  /** Moving average of latency (completion: full response; stream: first chunk), ms. */
  ewmaMs: number | undefined;
  /** Requests of this router currently on the deployment (streams count until they end). */
  inFlight = 0;

  constructor(
    deployment: Deployment,
    config: RoutingConfig,
    now: () => number,
    onStateChange: (state: DeploymentState, to: CircuitState, from: CircuitState) => void,
  ) {
    this.deployment = deployment;
    this.breaker = new CircuitBreaker({ ...circuitSettings(config), now, onStateChange: (to, from) => onStateChange(this, to, from) });
  }

  observeLatency(ms: number): void {
    this.ewmaMs = this.ewmaMs === undefined ? ms : this.ewmaMs + EWMA_ALPHA * (ms - this.ewmaMs);
  }
}

/** The breaker's thresholds from the routing config. */
export function circuitSettings(config: RoutingConfig) {
  return {
    consecutiveFailures: config.circuitConsecutiveFailures,
    failureRate: config.circuitFailureRate,
    windowMs: config.circuitWindowMs,
    minRequests: config.circuitMinRequests,
    cooldownMs: config.circuitCooldownMs,
  };
}
