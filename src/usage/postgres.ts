import net from 'node:net';
import type pg from 'pg';
import { COLUMNS, flatRowValues, groupColumn, quoteIdent, rowFrom, toGroup } from './columns.js';
import { DEFAULT_STORE_TIMEOUT_MS, type UsageGroup, type UsageQuery, type UsageRow, type UsageStore } from './types.js';

/**
 * The ledger in PostgreSQL, so several replicas share one. A batch is one multi-row INSERT (atomic);
 * `ON CONFLICT (id) DO NOTHING` makes a batch retried after a lost acknowledgement harmless.
 */

const migrations = (table: string): string[] => {
  const t = quoteIdent(table);
  return [
    `CREATE TABLE IF NOT EXISTS ${t} (
    id TEXT PRIMARY KEY,
    ts BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    key_name TEXT,
    model TEXT NOT NULL,
    deployment TEXT,
    status INTEGER NOT NULL,
    error_code TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    latency_ms INTEGER NOT NULL,
    ttft_ms INTEGER,
    stream SMALLINT NOT NULL,
    cost DOUBLE PRECISION
  );
  CREATE INDEX IF NOT EXISTS ${quoteIdent(`${table}_ts`)} ON ${t} (ts);
  CREATE INDEX IF NOT EXISTS ${quoteIdent(`${table}_key_ts`)} ON ${t} (key_name, ts);`,
  ];
};

export interface PostgresUsageStoreOptions {
  /** Max connections (the ledger writes one batch at a time; queries take the others). */
  max?: number;
  /**
   * `usage.queryTimeout` (ms): a query (pg's `query_timeout`) and a connection attempt
   * (`connectionTimeoutMillis`) give up after it, so a database that accepts connections but never
   * answers fails a write or a summary instead of hanging it. Default `DEFAULT_STORE_TIMEOUT_MS`.
   */
  timeoutMs?: number;
  /** Give up connecting after this (ms); default `timeoutMs`. */
  connectionTimeoutMs?: number;
}

export class PostgresUsageStore implements UsageStore {
  /**
   * The connection pool, made on first use: `pg` is loaded only by a gateway whose ledger is in
   * PostgreSQL (a SQLite gateway never pays its memory).
   */
  private connecting: Promise<pg.Pool> | undefined;
  private closed = false;
  private ready = false;
  /** The pool's sockets, so close() can let go of those a hung server never closes. */
  private readonly sockets = new Set<net.Socket>();
  readonly timeoutMs: number;
  /**
   * Names as they go into SQL. Lower-cased, as PostgreSQL folds the bare names earlier versions
   * wrote (`table: Usage` made `usage`), so a ledger keeps its table.
   */
  private readonly t: string;
  private readonly migrationsTable: string;

  constructor(
    private readonly url: string,
    private readonly table = 'adapterpool_usage',
    private readonly opts: PostgresUsageStoreOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
    this.t = quoteIdent(table.toLowerCase());
    this.migrationsTable = quoteIdent(`${table.toLowerCase()}_migrations`);
  }

  private db(): Promise<pg.Pool> {
    if (this.closed) return Promise.reject(new Error('the usage store is closed'));
    this.connecting ??= import('pg').then(({ default: pg }) => {
      const pool = new pg.Pool({
        connectionString: this.url,
        max: this.opts.max ?? 4,
        connectionTimeoutMillis: this.opts.connectionTimeoutMs ?? this.timeoutMs,
        // A query with no answer in time rejects, and pg-pool then destroys its connection.
        query_timeout: this.timeoutMs,
        // pg's own socket (`new net.Socket()`), kept in a set.
        stream: () => {
          const s = new net.Socket();
          this.sockets.add(s);
          s.once('close', () => this.sockets.delete(s));
          return s;
        },
      });
      // An idle client losing its connection emits here; without a listener it would crash the process.
      pool.on('error', () => undefined);
      return pool;
    });
    return this.connecting;
  }

  async init(): Promise<void> {
    if (this.ready) return;
    const m = this.migrationsTable;
    const c = await (await this.db()).connect();
    try {
      // One gateway migrates at a time (replicas start together); the lock ends with the transaction.
      // The lock's key is the name as configured, as in earlier versions (replicas of both agree).
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${this.table}_migrations`]);
      await c.query(`CREATE TABLE IF NOT EXISTS ${m} (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`);
      const applied = new Set((await c.query<{ version: number }>(`SELECT version FROM ${m}`)).rows.map((r) => r.version));
      const list = migrations(this.table.toLowerCase());
      for (let i = 0; i < list.length; i++) {
        if (applied.has(i + 1)) continue;
        await c.query(list[i]!);
        await c.query(`INSERT INTO ${m} (version, applied_at) VALUES ($1, $2)`, [i + 1, Date.now()]);
      }
      await c.query('COMMIT');
      this.ready = true;
    } catch (err) {
      // The connection is dropped, not reused: the server then rolls the transaction back (a
      // ROLLBACK sent behind a query that timed out would only wait on it in turn).
      c.release(true);
      throw err;
    }
    c.release();
  }

  async insert(rows: readonly UsageRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.init();
    const n = COLUMNS.length;
    const values = flatRowValues(rows);
    const tuples = rows.map((_, i) => `(${COLUMNS.map((_, j) => `$${i * n + j + 1}`).join(', ')})`);
    await (await this.db()).query(`INSERT INTO ${this.t} (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING`, values);
  }

  async prune(before: number): Promise<number> {
    await this.init();
    const r = await (await this.db()).query(`DELETE FROM ${this.t} WHERE ts < $1`, [before]);
    return r.rowCount ?? 0;
  }

  async summary(q: UsageQuery): Promise<UsageGroup[]> {
    await this.init();
    const col = groupColumn(q.groupBy, `to_char(to_timestamp(ts / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')`);
    const params: Array<number | string> = [q.from, q.to];
    let where = 'ts >= $1 AND ts < $2';
    if (q.key === null) where += ' AND key_name IS NULL';
    else if (q.key !== undefined) {
      params.push(q.key);
      where += ' AND key_name = $3';
    }
    const r = await (await this.db()).query(
      `SELECT ${col} AS grp, COUNT(*)::float8 AS requests, SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END)::float8 AS errors,
        COALESCE(SUM(prompt_tokens), 0)::float8 AS prompt_tokens, COALESCE(SUM(completion_tokens), 0)::float8 AS completion_tokens,
        COALESCE(SUM(total_tokens), 0)::float8 AS total_tokens, COALESCE(SUM(cost), 0)::float8 AS cost, COUNT(cost)::float8 AS priced_requests
      FROM ${this.t} WHERE ${where} GROUP BY grp ORDER BY grp NULLS FIRST`,
      params,
    );
    return r.rows.map(toGroup);
  }

  async rows(from: number, to: number): Promise<UsageRow[]> {
    await this.init();
    const r = await (await this.db()).query(`SELECT * FROM ${this.t} WHERE ts >= $1 AND ts < $2 ORDER BY ts, id`, [from, to]);
    return r.rows.map(rowFrom);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A pool still being made is ended once it is.
    const pool = this.connecting;
    this.connecting = undefined;
    if (pool === undefined) return;
    const ended = (await pool).end();
    // Idle connections end with a goodbye whose socket waits for the server's side of the close; a
    // server that never answers would hold it, and with it the process, open for good.
    for (const s of this.sockets) s.unref();
    // Resolves once the queries still running have ended (each within `timeoutMs`).
    await ended;
  }
}
