import { write, writeSync } from 'node:fs';

/**
 * Queued characters written at once, without waiting for the flush interval (a pipe's buffer; JSON
 * lines are mostly ASCII, so characters stand for bytes without encoding anything to count them).
 */
const EARLY_WRITE_CHARS = 64 * 1024;

export interface LineDestinationOptions {
  /**
   * How long a line may wait in the queue for others to join it in one `write` (0 = write at once when
   * no write is in flight). Each asynchronous `write` is a round trip through libuv's thread pool
   * (futex wake-ups, the write, an eventfd signal and one more event-loop turn: 7 system calls); one
   * per line was half the gateway's system calls per request at low concurrency.
   */
  flushIntervalMs?: number;
}

/**
 * The gateway's asynchronous stdout for JSON log lines: lines queue in an array and go out joined, in
 * one `write`, `flushIntervalMs` after the first of them (or at once past 64 KiB queued); one write is
 * in flight at a time.
 *
 * Why not `pino.destination({ sync: false })` (sonic-boom): it appends every line to one growing
 * string and takes that string's byte length on each append, which copies the whole pending batch
 * once per line, then encodes each batch a second time after writing it. Under load that was the
 * largest cost of the per-request log line (~2 KB of garbage and ~2-4 µs per request).
 */
export class LineDestination {
  private queue: string[] = [];
  private queuedChars = 0;
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly flushIntervalMs: number;
  /** A write failed for good (EPIPE, EBADF, …): later lines are dropped, the gateway keeps serving. */
  private broken = false;
  /** flush() callbacks waiting for the queue to empty. */
  private waiting: Array<(err?: Error) => void> | undefined;

  constructor(
    private readonly fd: number,
    options: LineDestinationOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 0;
    const ref = new WeakRef(this);
    open.add(ref);
    collected.register(this, ref);
  }

  /** pino calls this with one complete line (newline included). */
  write(line: string): boolean {
    if (this.broken) return true;
    this.queue.push(line);
    this.queuedChars += line.length;
    if (!this.writing) this.schedule();
    return true;
  }

  /** Calls `cb` once every line written so far is out (pino's `logger.flush(cb)`). */
  flush(cb?: (err?: Error) => void): void {
    if (this.timer !== undefined) this.next();
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
    clearTimeout(this.timer);
    this.timer = undefined;
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
    this.queuedChars = 0;
    return Buffer.from(lines.length === 1 ? lines[0]! : lines.join(''));
  }

  /** With no write in flight: write what is queued now, or when the flush interval is up. */
  private schedule(): void {
    if (this.flushIntervalMs === 0 || this.queuedChars >= EARLY_WRITE_CHARS) this.next();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.next(), this.flushIntervalMs);
      // Lines still queued at exit are written by the exit handler.
      this.timer.unref();
    }
  }

  private next(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
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
        this.queuedChars = 0;
        this.drained();
        return;
      }
      if (n < buf.length) {
        this.send(buf.subarray(n));
        return;
      }
      this.writing = false;
      if (this.queue.length > 0) {
        // A flush() is waiting for these lines: no reason to hold them for the interval.
        if (this.waiting !== undefined) this.next();
        else this.schedule();
      } else this.drained();
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
