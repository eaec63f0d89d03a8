import { Worker } from 'node:worker_threads';
import { flatRowValues } from './columns.js';
import type { SqliteWorkerData, WorkerCall, WorkerReply } from './sqlite-worker.js';
import { DEFAULT_STORE_TIMEOUT_MS, type UsageGroup, type UsageQuery, type UsageRow, type UsageStore } from './types.js';

/**
 * The ledger in an embedded SQLite file. better-sqlite3 is synchronous, and a batch of 500 rows held
 * the event loop for ~1.5 ms (a stall for every request in flight, and ~3 µs of the loop's time per
 * row): so the database lives on a worker thread (sqlite-worker.ts, sqlite-db.ts) and this store
 * sends it calls. On the event loop a batch now costs one structured clone of a flat array.
 */

export interface SqliteUsageStoreOptions {
  /**
   * `usage.queryTimeout`: the longest a call waits for the store's thread. A file that another process
   * holds locked is waited for up to half of it, on that thread.
   */
  timeoutMs?: number;
}

/** A call as the store writes it; `call()` adds the id. (Distributive: each kind keeps its own fields.) */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Call = WithoutId<WorkerCall>;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** One worker and the calls it owes an answer. */
interface LedgerThread {
  worker: Worker;
  pending: Map<number, Pending>;
  nextId: number;
}

export class SqliteUsageStore implements UsageStore {
  private thread: LedgerThread | undefined;
  readonly timeoutMs: number;

  constructor(
    private readonly path: string,
    private readonly table = 'adapterpool_usage',
    opts: SqliteUsageStoreOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
  }

  async init(): Promise<void> {
    await this.call({ op: 'init' });
  }

  async insert(rows: readonly UsageRow[]): Promise<void> {
    if (rows.length > 0) await this.call({ op: 'insert', values: flatRowValues(rows) });
  }

  async prune(before: number): Promise<number> {
    return (await this.call({ op: 'prune', before })) as number;
  }

  async summary(query: UsageQuery): Promise<UsageGroup[]> {
    return (await this.call({ op: 'summary', query })) as UsageGroup[];
  }

  async rows(from: number, to: number): Promise<UsageRow[]> {
    return (await this.call({ op: 'rows', from, to })) as UsageRow[];
  }

  /** Close the file and end the thread; a later call opens both again. */
  async close(): Promise<void> {
    const thread = this.thread;
    if (thread === undefined) return;
    try {
      await this.call({ op: 'close' });
    } finally {
      if (this.thread === thread) this.thread = undefined;
      await thread.worker.terminate();
    }
  }

  private call(body: Call): Promise<unknown> {
    const thread = (this.thread ??= this.spawn());
    const id = thread.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        settled(thread, id);
        reject(new Error(`the SQLite usage store did not answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      // The thread keeps the process alive only while it owes an answer (a shutdown's last write).
      if (thread.pending.size === 0) thread.worker.ref();
      thread.pending.set(id, { resolve, reject, timer });
      thread.worker.postMessage({ id, ...body });
    });
  }

  private spawn(): LedgerThread {
    const workerData: SqliteWorkerData = { path: this.path, table: this.table, busyTimeoutMs: this.timeoutMs / 2 };
    // No execArgv of ours: flags such as --cpu-prof or the test runner's are the main thread's business.
    // A small young generation: the thread only relays batches, and each semi-space is resident memory.
    const worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), { workerData, execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: 2 } });
    const thread: LedgerThread = { worker, pending: new Map(), nextId: 1 };
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const p = settled(thread, reply.id);
      if (p === undefined) return; // it timed out
      if (reply.ok) p.resolve(reply.value);
      else p.reject(Object.assign(new Error(reply.error.message), reply.error));
    });
    // An error thrown on the thread outside a call (its modules failed to load): the calls waiting fail with it.
    worker.on('error', (err) => failAll(thread, err));
    worker.on('exit', (code) => {
      failAll(thread, new Error(`the SQLite usage store's thread exited (code ${code})`));
      if (this.thread === thread) this.thread = undefined;
    });
    return thread;
  }
}

/** Take call `id` off the thread's list (clearing its timer); the thread lets the process exit once the list is empty. */
function settled(thread: LedgerThread, id: number): Pending | undefined {
  const p = thread.pending.get(id);
  if (p === undefined) return undefined;
  clearTimeout(p.timer);
  thread.pending.delete(id);
  if (thread.pending.size === 0) thread.worker.unref();
  return p;
}

function failAll(thread: LedgerThread, err: Error): void {
  for (const id of [...thread.pending.keys()]) settled(thread, id)!.reject(err);
}
