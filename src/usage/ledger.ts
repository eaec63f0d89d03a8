import { DEFAULT_STORE_TIMEOUT_MS, type UsageRow, type UsageStore } from './types.js';

/**
 * Buffers ledger rows and writes them in batches on a timer, off the request path: `record` only
 * pushes to an array. The buffer is bounded; while the store is down the rows wait and are
 * retried every `flushIntervalMs`; a row that does not fit (or is still unwritten when close()
 * gives up) is dropped and counted — never silently. The store's calls are bounded by its own
 * timeout (`usage.queryTimeout`), so a store that hangs counts as down, and close() waits at most
 * `closeTimeoutMs` in all.
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
  /**
   * The longest close() takes: its last write, then closing the store. Rows not written by then
   * are dropped and counted. Default: the store's `timeoutMs` (`usage.queryTimeout`).
   */
  closeTimeoutMs?: number;
  logger?: LedgerLogger;
  now?: () => number;
}

const DAY_MS = 86_400_000;

export class UsageLedger {
  private buffer: UsageRow[] = [];
  /** The write under way; resolves true when it wrote everything, false when the store failed. */
  private flushing: Promise<boolean> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Immediate | undefined;
  private up: boolean | undefined;
  private closed = false;
  /** close() gave up on the last write: its late outcome counts for nothing (its rows were counted dropped). */
  private abandoned = false;
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
    if (this.buffer.length >= this.opts.batchSize) this.scheduleBatch();
  }

  /**
   * A full batch goes out on the next turn of the event loop, not in the caller's; while a write is
   * under way, when it ends (that write goes on to the next batch only if a whole one is waiting).
   */
  private scheduleBatch(): void {
    if (this.buffer.length < this.opts.batchSize || this.soon !== undefined || this.flushing !== undefined || this.up === false || this.closed) return;
    this.soon = setImmediate(() => {
      this.soon = undefined;
      void this.drain(false, true);
    });
  }

  /**
   * Write everything buffered now. One write at a time: a call during one waits for it, then writes
   * the rest — unless the store is down. Then the write under way is the attempt (a call during a
   * retry returns at once; one during a write that fails returns when it does), so a caller such as
   * `GET /v1/usage` waits for at most one write (each bounded by the store's timeout), not a queue.
   * True when everything buffered was written.
   */
  async flush(): Promise<boolean> {
    return this.drain(false);
  }

  /**
   * Write what is buffered; true when all of it was written. A write under way that fails ends it
   * (that was the attempt); `waitWhileDown` false: a retry under way to a store that is down is not
   * waited for either. `wholeBatches`: write only full batches (a busy gateway's batches).
   */
  private async drain(waitWhileDown: boolean, wholeBatches = false): Promise<boolean> {
    while (this.flushing !== undefined) {
      if (!waitWhileDown && this.up === false) return false;
      if (!(await this.flushing)) return false;
    }
    if (this.buffer.length === 0) return true;
    if (this.abandoned) return false;
    this.flushing = this.writeAll(wholeBatches).finally(() => {
      this.flushing = undefined;
      this.scheduleBatch();
    });
    return this.flushing;
  }

  /**
   * Write the rows buffered now (`wholeBatches`: only full batches, while there are). Rows recorded
   * meanwhile wait for a full batch or the timer: with a store whose write takes real time (the
   * SQLite thread, PostgreSQL), writing them too would turn a busy gateway's batches into a small
   * one per round trip.
   */
  private async writeAll(wholeBatches: boolean): Promise<boolean> {
    let due = wholeBatches ? 0 : this.buffer.length;
    while (!this.abandoned) {
      const size = wholeBatches ? (this.buffer.length >= this.opts.batchSize ? this.opts.batchSize : 0) : Math.min(due, this.opts.batchSize);
      if (size === 0) break;
      const batch = this.buffer.slice(0, size);
      try {
        await this.store.insert(batch);
      } catch (err) {
        if (!this.abandoned) this.setUp(false, err);
        return false; // rows stay buffered; the timer retries
      }
      if (this.abandoned) return false;
      // Rows recorded meanwhile were appended behind the batch.
      this.buffer.splice(0, batch.length);
      this.writtenRows += batch.length;
      due -= batch.length;
      this.setUp(true, undefined);
    }
    return true;
  }

  /** Delete rows past `retentionDays`. */
  async prune(): Promise<number> {
    if (this.opts.retentionDays <= 0) return 0;
    try {
      const n = await this.store.prune(this.now() - this.opts.retentionDays * DAY_MS);
      if (n > 0) this.opts.logger?.info({ event: 'usage_pruned', rows: n, retentionDays: this.opts.retentionDays }, 'usage ledger: pruned old rows');
      return n;
    } catch (err) {
      this.setUp(false, err);
      return 0;
    }
  }

  /**
   * Stop the timers, write what is buffered (one try: a write under way that fails is it), count the
   * rest as dropped, close the store — all within `closeTimeoutMs`, so a store that hangs cannot hold
   * the shutdown. A write still under way then is abandoned: its rows count as dropped even if it
   * lands later (PostgreSQL skips them if they are sent again).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.flushTimer);
    clearInterval(this.pruneTimer);
    if (this.soon !== undefined) clearImmediate(this.soon);
    const limitMs = this.opts.closeTimeoutMs ?? this.store.timeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
    const deadline = Date.now() + limitMs;
    const inTime = await within(this.drain(true), limitMs);
    // From here on a write that is still under way counts for nothing.
    this.abandoned = true;
    if (this.buffer.length > 0) {
      this.droppedRows += this.buffer.length;
      this.opts.logger?.warn(
        { event: 'usage_dropped_at_shutdown', rows: this.buffer.length, ...(inTime ? {} : { timeoutMs: limitMs }) },
        inTime ? 'usage ledger: rows not written at shutdown were dropped' : 'usage ledger: the store did not answer in time at shutdown; rows not written were dropped',
      );
      this.buffer = [];
    }
    await within(
      this.store.close().catch(() => undefined),
      Math.max(0, deadline - Date.now()),
    );
  }

  /** Log once per change of state, not once per failed retry. */
  private setUp(up: boolean, err: unknown): void {
    if (this.up === up) return;
    const was = this.up;
    this.up = up;
    if (!up) this.opts.logger?.warn({ event: 'usage_store_down', err, pending: this.buffer.length }, 'usage ledger: the store cannot be written; rows are buffered and retried');
    else if (was === false) this.opts.logger?.info({ event: 'usage_store_up', pending: this.buffer.length }, 'usage ledger: the store is writable again');
  }
}

/** Wait for `p` at most `ms`: true when it settled in time (its outcome is the caller's to handle). */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
