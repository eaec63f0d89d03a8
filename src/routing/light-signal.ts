/**
 * An abort signal without an EventTarget. A real `AbortController` with a listener costs about 3 µs
 * per request (an EventTarget and its internals), a visible share of the gateway's per-request CPU.
 * This object carries just what its consumers read — `aborted`, `reason`, `addEventListener` /
 * `removeEventListener` (undici, the pool, `timers/promises`) — and is handed to them typed as an
 * `AbortSignal`.
 */
type Listener = (ev: { type: 'abort' }) => void;

export class LightSignal {
  aborted = false;
  reason: unknown = undefined;
  onabort: Listener | null = null;
  private listeners: Listener[] | null = null;

  addEventListener(type: string, fn: Listener): void {
    if (type === 'abort') (this.listeners ??= []).push(fn);
  }

  removeEventListener(type: string, fn: Listener): void {
    if (type !== 'abort' || this.listeners === null) return;
    const i = this.listeners.indexOf(fn);
    if (i >= 0) this.listeners.splice(i, 1);
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** Fires once; every listener runs once, each in its own try so one failure can't skip the others. */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const ev = { type: 'abort' as const };
    const listeners = this.listeners;
    this.listeners = null;
    try {
      this.onabort?.(ev);
    } catch {}
    if (listeners !== null) {
      for (const fn of listeners) {
        try {
          fn.call(this, ev);
        } catch {}
      }
    }
  }

  get signal(): AbortSignal {
    return this as unknown as AbortSignal;
  }
}
