import { write, writeSync } from 'node:fs';

/**
 * The gateway's asynchronous stdout for JSON log lines: a line is written at once when no write is in
 * flight; lines that arrive meanwhile queue in an array and go out joined, in one `write`, when it
 * completes (under load, about a dozen lines per system call).
 *
 * Why not `pino.destination({ sync: false })` (sonic-boom): it appends every line to one growing
 * string and takes that string's byte length on each append, which copies the whole pending batch
 * once per line, then encodes each batch a second time after writing it. Under load that was the
 * largest cost of the per-request log line (~2 KB of garbage and ~2-4 µs per request).
 */
export class LineDestination {
  private queue: string[] = [];
  private writing = false;
  /** A write failed for good (EPIPE, EBADF, …): later lines are dropped, the gateway keeps serving. */
  private broken = false;
  /** flush() callbacks waiting for the queue to empty. */
  private waiting: Array<(err?: Error) => void> | undefined;

  constructor(private readonly fd: number) {
    const ref = new WeakRef(this);
    open.add(ref);
    collected.register(this, ref);
  }

  /** pino calls this with one complete line (newline included). */
  write(line: string): boolean {
    if (this.broken) return true;
    this.queue.push(line);
    if (!this.writing) this.next();
    return true;
  }

  /** Calls `cb` once every line written so far is out (pino's `logger.flush(cb)`). */
  flush(cb?: (err?: Error) => void): void {
    if (!this.writing || this.broken) {
      cb?.();
      return;
    }
    if (cb !== undefined) (this.waiting ??= []).push(cb);
  }

  /**
   * Write what is queued, synchronously (when the process exits). Queued lines only: a write in
   * flight was handed to the kernel already (or will be, by the thread doing it), and writing it
   * again could duplicate it.
   */
  flushSync(): void {
    if (this.broken || this.queue.length === 0) return;
    let buf = this.take();
    let busy = 0;
    while (buf.length > 0) {
      try {
        buf = buf.subarray(writeSync(this.fd, buf));
      } catch (err) {
        // A non-blocking pipe that is full: wait for the reader a little, a bounded number of times.
        if (isBusy(err) && busy++ < 100) {
          Atomics.wait(SLEEPER, 0, 0, 10);
          continue;
        }
        this.broken = true;
        return;
      }
    }
  }

  private take(): Buffer {
    const lines = this.queue;
    this.queue = [];
    return Buffer.from(lines.length === 1 ? lines[0]! : lines.join(''));
  }

  private next(): void {
    this.writing = true;
    this.send(this.take());
  }

  private send(buf: Buffer): void {
    write(this.fd, buf, 0, buf.length, null, (err, n) => {
      if (err !== null) {
        if (isBusy(err)) {
          setTimeout(() => this.send(buf), 10);
          return;
        }
        this.broken = true;
        this.writing = false;
        this.queue = [];
        this.drained();
        return;
      }
      if (n < buf.length) {
        this.send(buf.subarray(n));
        return;
      }
      this.writing = false;
      if (this.queue.length > 0) this.next();
      else this.drained();
    });
  }

  private drained(): void {
    const cbs = this.waiting;
    this.waiting = undefined;
    if (cbs !== undefined) for (const cb of cbs) cb();
  }
}

function isBusy(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EAGAIN' || code === 'EBUSY';
}

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

/** Destinations not yet collected: their queued lines are written when the process exits. */
const open = new Set<WeakRef<LineDestination>>();
const collected = new FinalizationRegistry<WeakRef<LineDestination>>((ref) => open.delete(ref));
process.once('exit', () => {
  for (const ref of open) ref.deref()?.flushSync();
});
