import { ProviderError } from '../providers/errors.js';
import { CircuitBreaker, type CircuitState, type Permit } from './circuit-breaker.js';
import type { CircuitSettings, Deployment } from './types.js';

/** Weight of the newest sample in the latency moving average. */
const EWMA_ALPHA = 0.3;
/**
 * The moving average halves for every this long without a new sample (PeakEWMA's decay, as in
 * Finagle and Linkerd). Without it a deployment measured slow once was never picked again, so never
 * measured again: lowest_latency shut it out for good. With it, one that stays slow gets one probe
 * about every 8 half-lives (300 ms decays to ~1 ms in ~16 s), one that recovered gets its share back.
 */
const LATENCY_HALF_LIFE_MS = 2_000;

/** What the router knows about one deployment (shared by every route that uses it). */
export class DeploymentState {
  readonly deployment: Deployment;
  readonly breaker: CircuitBreaker;
  /** Moving average of latency (completion: full response; stream: first event), ms, as of its last sample. */
  ewmaMs: number | undefined;
  /** When (router clock, ms) the average last took a sample. */
  private ewmaAt = 0;
  /** Calls of this router currently on the deployment (streams count until they end). */
  inFlight = 0;
  /**
   * Its circuit is open because a health check found every adapter unhealthy: then a later passing
   * health check ends the cooldown. Not one that requests opened: a health check cannot see what
   * failed them.
   */
  openedByHealthCheck = false;
  /**
   * The last failure that counted against the circuit (`401 auth: …`, with the provider error's
   * scrubbed message): the reason an open circuit gives in its log line and on the status pages.
   */
  lastFailure: string | undefined;
  /**
   * The same failure without the upstream's words (`401 auth`): what the 503 of a model with no
   * deployment left tells the client (the upstream's text and addresses go to the operator only).
   */
  lastFailureKind: string | undefined;
  /**
   * Until when (router clock, ms) the upstream asked not to be sent requests (its 429's Retry-After):
   * while another deployment of the route can serve, this one is skipped. 0: not throttled.
   */
  throttledUntil = 0;
  private circuit: CircuitSettings;

  constructor(
    deployment: Deployment,
    circuit: CircuitSettings,
    now: () => number,
    onStateChange: (state: DeploymentState, to: CircuitState, from: CircuitState) => void,
  ) {
    this.deployment = deployment;
    this.circuit = circuit;
    this.breaker = new CircuitBreaker({ ...breakerOptions(circuit), now, onStateChange: (to, from) => onStateChange(this, to, from) });
  }

  /** The deployment's circuit settings; changing them keeps the circuit's state. */
  configure(circuit: CircuitSettings): void {
    if (sameCircuit(circuit, this.circuit)) return;
    this.circuit = circuit;
    this.breaker.configure(breakerOptions(circuit));
  }

  /** Takes a sample into the moving average (decayed to `now` first). */
  observeLatency(ms: number, now: number): void {
    const current = this.latencyAt(now);
    this.ewmaMs = current === undefined ? ms : current + EWMA_ALPHA * (ms - current);
    this.ewmaAt = now;
  }

  /** The moving average decayed to `now`; undefined until measured. */
  latencyAt(now: number): number | undefined {
    const ewma = this.ewmaMs;
    if (ewma === undefined) return undefined;
    const idle = now - this.ewmaAt;
    return idle <= 0 ? ewma : ewma * 2 ** (-idle / LATENCY_HALF_LIFE_MS);
  }

  /**
   * A call (or a stream, at its end) on this deployment is over: the one place its outcome becomes
   * the circuit's. Returns true when the adapter should be reported broken to the pool.
   * - no error: a success.
   * - a ProviderError: by its action (the caller's own fault and an abort are neutral).
   * - anything else was raised in our own process (a bug, a body we could not serialize): it says
   *   nothing about the deployment, so it is neutral and never opens a circuit.
   */
  settle(permit: Permit, error?: unknown): boolean {
    this.inFlight--;
    const b = this.breaker;
    if (error === undefined) {
      b.onSuccess(permit);
      return false;
    }
    if (!(error instanceof ProviderError) || error.errorClass === 'aborted') {
      b.onNeutral(permit);
      return false;
    }
    const a = error.action;
    const counts = (a.retry || a.failover) && a.cooldown;
    // Before the breaker hears of it: an opening it causes reports this failure as its reason.
    if (counts || a.unhealthy) {
      this.lastFailure = failureReason(error);
      this.lastFailureKind = `${error.status} ${error.errorClass}`;
    }
    if (counts) b.onFailure(permit);
    else b.onNeutral(permit);
    if (a.unhealthy) b.trip();
    return a.unhealthy;
  }
}

function breakerOptions(c: CircuitSettings) {
  return {
    consecutiveFailures: c.circuitConsecutiveFailures,
    failureRate: c.circuitFailureRate,
    windowMs: c.circuitWindowMs,
    minRequests: c.circuitMinRequests,
    cooldownMs: c.circuitCooldownMs,
  };
}

function sameCircuit(a: CircuitSettings, b: CircuitSettings): boolean {
  return (
    a === b ||
    (a.circuitConsecutiveFailures === b.circuitConsecutiveFailures &&
      a.circuitFailureRate === b.circuitFailureRate &&
      a.circuitWindowMs === b.circuitWindowMs &&
      a.circuitMinRequests === b.circuitMinRequests &&
      a.circuitCooldownMs === b.circuitCooldownMs)
  );
}

/** Longest failure message a reason keeps: a reason is a line in a log and a 503, not the upstream's body. */
const REASON_MAX = 200;

/** `401 auth: <the provider error's message>` (messages are scrubbed of secrets where they are made). */
function failureReason(error: ProviderError): string {
  const text = `${error.status} ${error.errorClass}: ${error.message}`;
  return text.length <= REASON_MAX ? text : `${text.slice(0, REASON_MAX - 1)}…`;
}
