import { LightSignal } from './light-signal.js';
import { SlotList } from './slot-list.js';

/** A request ran out of `routing.requestTimeout`: the call under way was aborted. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  readonly status = 504;
  constructor(readonly timeoutMs: number) {
    super(`the request did not finish within routing.requestTimeout (${timeoutMs} ms)`);
  }
}

/** How often the budgets in flight are checked: a budget ends at most this much late (README says so). */
const SWEEP_MS = 100;
/** The budgets in flight (a SlotList, not a Set: see there). */
const running = new SlotList<RequestBudget>();
let sweeper: NodeJS.Timeout | undefined;

function sweep(): void {
  const now = performance.now();
  running.forEach((b) => {
    if (now >= b.deadline) b.expire();
  });
  // Idle: stop until the next budget starts (not per request: a busy gateway keeps one timer).
  if (running.size === 0 && sweeper !== undefined) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/**
 * A request's time budget (`routing.requestTimeout`, retries included), as the signal its upstream
 * calls and pool waits get: it fires when the caller's own signal does, or with a
 * RequestTimeoutError when the budget runs out. One shared coarse timer checks the budgets in
 * flight; a timer per request would cost more than the request's routing.
 */
export class RequestBudget extends LightSignal {
  readonly deadline: number;
  expired = false;
  /** Its place in `running` (SlotList); -1 once out. */
  slot = -1;
  private readonly parent: AbortSignal | undefined;
  private readonly onParentAbort: (() => void) | undefined;

  constructor(
    parent: AbortSignal | undefined,
    readonly timeoutMs: number,
  ) {
    super();
    this.deadline = performance.now() + timeoutMs;
    this.parent = parent;
    if (parent !== undefined) {
      if (parent.aborted) this.abort(parent.reason);
      else {
        this.onParentAbort = () => this.abort(parent.reason);
        parent.addEventListener('abort', this.onParentAbort);
      }
    }
    running.add(this);
    if (sweeper === undefined) {
      sweeper = setInterval(sweep, SWEEP_MS);
      sweeper.unref();
    }
  }

  expire(): void {
    running.delete(this);
    if (this.aborted) return;
    this.expired = true;
    this.abort(new RequestTimeoutError(this.timeoutMs));
  }

  /** The budget no longer applies (a stream began): the caller's hang-up still passes through. */
  stopClock(): void {
    running.delete(this);
  }

  /** The request is over: stop the clock and let go of the caller's signal. */
  detach(): void {
    running.delete(this);
    if (this.onParentAbort !== undefined) this.parent!.removeEventListener('abort', this.onParentAbort);
  }
}
