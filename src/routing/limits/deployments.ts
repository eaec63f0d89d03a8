import { TokenEstimate, type Estimate } from '../admission.js';
import type { Deployment } from '../types.js';
import { reservationTokens } from './tokens.js';
import type { Limiter, RateLimits, Reservation } from './types.js';

/**
 * Per-deployment rpm / tpm (config `models.<name>.providers[].rpm|tpm`, by pool key) over a
 * `Limiter`, behind the router's admission port: the router asks before each upstream call; a
 * deployment at its limit is skipped like a full pool and the request fails over.
 *
 * Tokens: each request gets a `DeploymentCharge` (its reservation estimate), found by the request
 * object (a chat request or a `TokenEstimate`) the router passes to `admit`; every deployment that admits it reserves that much, and when
 * the request ends `settle(request, …)` corrects them: the deployment that served it is charged the
 * tokens the upstream reported, the others (failed or skipped calls) nothing.
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
    public tokens: number,
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

export interface DeploymentLimiterOptions {
  limiter: Limiter;
  /** Limits by deployment key (`model:provider`); read at each call, so a reloaded config applies. */
  limits: () => ReadonlyMap<string, RateLimits>;
  /** Completion tokens reserved when a request sets no max (config `limits.defaultMaxTokens`). */
  defaultMaxTokens: () => number;
  /** A deployment was found at its limit (metrics). */
  onLimited?: (d: Deployment) => void;
}

export class DeploymentLimiter {
  private readonly charges = new WeakMap<Estimate, DeploymentCharge>();
  private readonly limiter: Limiter;
  private readonly limitsOf: () => ReadonlyMap<string, RateLimits>;
  private readonly defaultMaxTokens: () => number;
  private readonly onLimited: ((d: Deployment) => void) | undefined;

  constructor(opts: DeploymentLimiterOptions) {
    this.limiter = opts.limiter;
    this.limitsOf = opts.limits;
    this.defaultMaxTokens = opts.defaultMaxTokens;
    this.onLimited = opts.onLimited;
  }

  /**
   * Admit one call to `d` for `request`. Unlimited deployments answer `true` synchronously (no
   * promise on the hot path); limited ones consult the limiter, reserving the request's estimate
   * against their tpm.
   */
  admit(d: Deployment, request: Estimate | undefined): true | DeploymentDenied | Promise<true | DeploymentDenied> {
    const l = this.limitsOf().get(d.key);
    if (l === undefined) return true;
    const charge = request === undefined ? undefined : this.chargeOf(request, l.tpm !== undefined);
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

  /** `request` ended: `served` answered it having used `usedTokens` (undefined: unknown, keep its reservation). */
  settle(request: Estimate, served: Deployment | undefined, usedTokens: number | undefined): void {
    const c = this.charges.get(request);
    if (c === undefined) return;
    this.charges.delete(request);
    c.settle(served, usedTokens);
  }

  private chargeOf(request: Estimate, withTokens: boolean): DeploymentCharge {
    let c = this.charges.get(request);
    if (c === undefined) {
      c = new DeploymentCharge(withTokens ? this.tokensOf(request) : 0);
      this.charges.set(request, c);
    } else if (withTokens && c.tokens === 0) {
      // First met an rpm-only deployment; this one counts tokens.
      c.tokens = this.tokensOf(request);
    }
    return c;
  }

  private tokensOf(request: Estimate): number {
    return request instanceof TokenEstimate ? request.tokens : reservationTokens(request, this.defaultMaxTokens());
  }
}
