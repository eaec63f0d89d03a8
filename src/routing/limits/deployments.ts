import type { Deployment } from '../types.js';
import type { Limiter, RateLimits, Reservation } from './types.js';

/**
 * Per-deployment rpm / tpm (config `models.<name>.providers[].rpm|tpm`, by pool key) over a
 * `Limiter`. The router asks before each upstream call; a deployment at its limit is skipped.
 */
export class DeploymentLimiter {
  constructor(
    private readonly limiter: Limiter,
    private readonly limits: ReadonlyMap<string, RateLimits>,
    /** A deployment was found at its limit (metrics). */
    private readonly onLimited?: (d: Deployment) => void,
  ) {}

  /** True when no deployment has a limit (the router can skip the port). */
  get empty(): boolean {
    return this.limits.size === 0;
  }

  /** Admit one call to `d` reserving `tokens`: its reservation, or when to come back. Unlimited deployments get `undefined`. */
  async admit(d: Deployment, tokens: number): Promise<Reservation | { retryAfterMs: number } | undefined> {
    const l = this.limits.get(d.key);
    if (l === undefined) return undefined;
    const a = await this.limiter.admit(`deployment:${d.key}`, l, l.tpm === undefined ? 0 : tokens);
    if (a.ok) return a.reservation;
    this.onLimited?.(d);
    return { retryAfterMs: a.retryAfterMs };
  }
}
