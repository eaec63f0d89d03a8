/**
 * The SQLite ledger's thread: owns the database (sqlite-db.ts) and answers the store's calls
 * (sqlite.ts) one at a time, so a batch's inserts never stop the event loop that serves requests.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteLedgerDb, type FlatRows } from './sqlite-db.js';
import type { UsageQuery } from './types.js';

export interface SqliteWorkerData {
  path: string;
  table: string;
  busyTimeoutMs: number;
}

export type WorkerCall =
  | { id: number; op: 'init' }
  | { id: number; op: 'insert'; values: FlatRows }
  | { id: number; op: 'prune'; before: number }
  | { id: number; op: 'summary'; query: UsageQuery }
  | { id: number; op: 'rows'; from: number; to: number }
  | { id: number; op: 'close' };

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { message: string; code?: string; name: string } };

const port = parentPort;
if (port === null) throw new Error('sqlite-worker.js runs as a worker thread of SqliteUsageStore');
const { path, table, busyTimeoutMs } = workerData as SqliteWorkerData;
/** Opened by the first call: a file that cannot be opened fails that call, and the next one tries again. */
let db: SqliteLedgerDb | undefined;
const open = (): SqliteLedgerDb => (db ??= new SqliteLedgerDb(path, table, busyTimeoutMs));

function run(call: WorkerCall): unknown {
  switch (call.op) {
    case 'init':
      open();
      return undefined;
    case 'insert':
      open().insert(call.values);
      return undefined;
    case 'prune':
      return open().prune(call.before);
    case 'summary':
      return open().summary(call.query);
    case 'rows':
      return open().rows(call.from, call.to);
    case 'close':
      db?.close();
      db = undefined;
      return undefined;
  }
}

port.on('message', (call: WorkerCall) => {
  let reply: WorkerReply;
  try {
    reply = { id: call.id, ok: true, value: run(call) };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const code = (e as { code?: unknown }).code;
    reply = { id: call.id, ok: false, error: { message: e.message, name: e.name, ...(typeof code === 'string' ? { code } : {}) } };
  }
  port.postMessage(reply);
});
