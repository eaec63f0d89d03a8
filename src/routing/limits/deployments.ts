import type { Deployment } from '../types.js';
import type { Limiter, RateLimits, Reservation } from './types.js';

/**
 * Per-deployment rpm / tpm (config `models.<name>.providers[].rpm|tpm`, by pool key) over a
 * `Limiter`, behind the router's admission port: the router asks before each upstream call; a
 * deployment at its limit is skipped like a full pool and the request fails over.
 *
 * Tokens: each request carries a `DeploymentCharge` (its reservation estimate) through the router;
 * every deployment that admits it reserves that much, and when the request ends the charge settles
 * them: the deployment that served it with the tokens the upstream reported, the others (failed or
 * skipped calls) with none.
 */

/** Why a deployment refused: how long until it could admit again. */
export interface DeploymentDenied {
  retryAfterMs: number;
}

/** One request's token reservation across the deployments it tried. */
export class DeploymentCharge {
  private readonly held: Array<{ deployment: Deployment; reservation: Reservation }> = [];
  private settled = false;

  constructor(
    /** Tokens to reserve per deployment: prompt estimate + max tokens. */
    readonly tokens: number,
  ) {}

  /** @internal */
  hold(deployment: Deployment, reservation: Reservation): void {
    if (this.settled) reservation.settle(0);
    else this.held.push({ deployment, reservation });
  }

  /**
   * The request ended. `served`: the deployment whose answer the client got (its last reservation
   * is charged `usedTokens`; undefined = unknown, keep the reservation); every other one is charged nothing.
   */
  settle(served: Deployment | undefined, usedTokens: number | undefined): void {
    if (this.settled) return;
    this.settled = true;
    let servedIndex = -1;
    if (served !== undefined) for (let i = this.held.length - 1; i >= 0 && servedIndex < 0; i--) if (this.held[i]!.deployment.key === served.key) servedIndex = i;
    this.held.forEach((h, i) => h.reservation.settle(i === servedIndex ? usedTokens : 0));
    this.held.length = 0;
  }
}

export class DeploymentLimiter {
  constructor(
    private readonly limiter: Limiter,
    private readonly limits: ReadonlyMap<string, RateLimits>,
    /** A deployment was found at its limit (metrics). */
    private readonly onLimited?: (d: Deployment) => void,
  ) {}

  /** True when no deployment has a limit. */
  get empty(): boolean {
    return this.limits.size === 0;
  }

  /**
   * Admit one call to `d`. Unlimited deployments answer `true` synchronously (no promise on the hot
   * path); limited ones consult the limiter, reserving `charge.tokens` against their tpm.
   */
  admit(d: Deployment, charge?: DeploymentCharge): true | DeploymentDenied | Promise<true | DeploymentDenied> {
    const l = this.limits.get(d.key);
    if (l === undefined) return true;
    return this.limiter.admit(`deployment:${d.key}`, l, l.tpm === undefined ? 0 : (charge?.tokens ?? 0)).then((a) => {
      if (a.ok) {
        if (charge !== undefined) charge.hold(d, a.reservation);
        else a.reservation.settle(undefined); // nobody will correct it: the request count and the reservation stay
        return true;
      }
      this.onLimited?.(d);
      return { retryAfterMs: a.retryAfterMs };
    });
  }
}
