import { SlotList } from '../routing/index.js';
import type { HangupSignal } from './hangup-signal.js';

/**
 * The model endpoints' requests in flight, from arrival to their lifecycle's end, for the shutdown:
 *
 * - At the deadline, the ones still waiting for their answer (queued for an adapter, waiting for an
 *   upstream's first byte) are cut: their wait is given up and they are answered 503 `shutting_down`.
 *   Left alone, a queued caller got the adapter a cut stream freed and started a new stream, which
 *   the closing connections then cut without a word (and it was counted as the client's 499).
 * - The shutdown waits for every request to end before the ledger's last write, so none ends after
 *   it, unrecorded.
 */
export class OpenRequests {
  private count = 0;
  /** Requests with no answer under way (a SlotList, not a Set: see there). */
  private readonly awaiting = new SlotList<HangupSignal>();
  private onIdle: (() => void) | undefined;

  get size(): number {
    return this.count;
  }

  enter(): void {
    this.count++;
  }

  leave(): void {
    if (--this.count === 0) this.onIdle?.();
  }

  /** `hangup` belongs to a request with no answer under way yet: the deadline cuts it. */
  waitForAnswer(hangup: HangupSignal): void {
    this.awaiting.add(hangup);
  }

  /** Its answer is under way (or it ended): a stream is cut by its own writer, a reply is left to finish. */
  answering(hangup: HangupSignal): void {
    this.awaiting.delete(hangup);
  }

  /** The deadline: abort every wait for an answer. Returns how many. */
  cutWaiting(): number {
    const cut = this.awaiting.takeAll();
    for (const h of cut) h.abort();
    return cut.length;
  }

  /** Resolves true once no request is in flight, or false after `ms`. */
  settled(ms: number): Promise<boolean> {
    if (this.count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.onIdle = undefined;
        resolve(false);
      }, ms);
      this.onIdle = () => {
        clearTimeout(timer);
        this.onIdle = undefined;
        resolve(true);
      };
    });
  }
}
