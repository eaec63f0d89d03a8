import type { UsageRow, UsageStore } from './types.js';

/**
 * Buffers ledger rows and writes them in batches on a timer, off the request path: `record` only
 * pushes to an array. The buffer is bounded; while the store is down the rows wait and are
 * retried every `flushIntervalMs`; a row that does not fit (or is still unwritten at close) is
 * dropped and counted — never silently.
 */

export interface LedgerLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface UsageLedgerOptions {
  batchSize: number;
  flushIntervalMs: number;
  maxBuffer: number;
  /** 0 = keep forever. */
  retentionDays: number;
  pruneIntervalMs: number;
  logger?: LedgerLogger;
  now?: () => number;
}

const DAY_MS = 86_400_000;

export class UsageLedger {
  private buffer: UsageRow[] = [];
  private flushing: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Immediate | undefined;
  private up: boolean | undefined;
  private closed = false;
  private droppedRows = 0;
  private writtenRows = 0;
  private readonly now: () => number;

  constructor(
    readonly store: UsageStore,
    private readonly opts: UsageLedgerOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Rows dropped: buffer full, or unwritten at close. */
  get dropped(): number {
    return this.droppedRows;
  }
  get written(): number {
    return this.writtenRows;
  }
  /** Rows waiting to be written. */
  get pending(): number {
    return this.buffer.length;
  }
  /** The last write (or schema setup) worked; undefined before the first. */
  get healthy(): boolean | undefined {
    return this.up;
  }

  /** Set up the schema (a failure only logs: writes retry it) and start the timers. */
  async start(): Promise<void> {
    try {
      await this.store.init();
      this.setUp(true, undefined);
    } catch (err) {
      this.setUp(false, err);
    }
    this.flushTimer = setInterval(() => void this.flush(), this.opts.flushIntervalMs);
    this.flushTimer.unref();
    if (this.opts.retentionDays > 0) {
      void this.prune();
      this.pruneTimer = setInterval(() => void this.prune(), this.opts.pruneIntervalMs);
      this.pruneTimer.unref();
    }
  }

  record(row: UsageRow): void {
    if (this.closed || this.buffer.length >= this.opts.maxBuffer) {
      this.droppedRows++;
      return;
    }
    this.buffer.push(row);
    // A full batch goes out on the next turn of the event loop, not in the caller's.
    if (this.buffer.length >= this.opts.batchSize && this.soon === undefined && this.up !== false) {
      this.soon = setImmediate(() => {
        this.soon = undefined;
        void this.flush();
      });
    }
  }

  /** Write everything buffered now (one flush at a time; a call during one waits for it, then writes the rest). */
  async flush(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    if (this.buffer.length === 0) return;
    this.flushing = this.writeAll().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async writeAll(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.opts.batchSize);
      try {
        await this.store.insert(batch);
      } catch (err) {
        this.setUp(false, err);
        return; // rows stay buffered; the timer retries
      }
      // Rows recorded meanwhile were appended behind the batch.
      this.buffer.splice(0, batch.length);
      this.writtenRows += batch.length;
      this.setUp(true, undefined);
    }
  }

  /** Delete rows past `retentionDays`. */
  async prune(): Promise<number> {
    if (this.opts.retentionDays <= 0) return 0;
    try {
      const n = await this.store.prune(this.now() - this.opts.retentionDays * DAY_MS);
      if (n > 0) this.opts.logger?.info({ rows: n, retentionDays: this.opts.retentionDays }, 'usage ledger: pruned old rows');
      return n;
    } catch (err) {
      this.setUp(false, err);
      return 0;
    }
  }

  /** Stop the timers, write what is buffered (one try), count the rest as dropped, close the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.flushTimer);
    clearInterval(this.pruneTimer);
    if (this.soon !== undefined) clearImmediate(this.soon);
    await this.flush();
    if (this.buffer.length > 0) {
      this.droppedRows += this.buffer.length;
      this.opts.logger?.warn({ rows: this.buffer.length }, 'usage ledger: rows not written at shutdown were dropped');
      this.buffer = [];
    }
    await this.store.close().catch(() => undefined);
  }

  /** Log once per change of state, not once per failed retry. */
  private setUp(up: boolean, err: unknown): void {
    if (this.up === up) return;
    const was = this.up;
    this.up = up;
    if (!up) this.opts.logger?.warn({ err, pending: this.buffer.length }, 'usage ledger: the store cannot be written; rows are buffered and retried');
    else if (was === false) this.opts.logger?.info({ pending: this.buffer.length }, 'usage ledger: the store is writable again');
  }
}
