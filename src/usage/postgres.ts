import type pg from 'pg';
import { COLUMNS, groupColumn, rowFrom, rowValues } from './columns.js';
import { toGroup } from './sqlite.js';
import type { UsageGroup, UsageQuery, UsageRow, UsageStore } from './types.js';

/**
 * The ledger in PostgreSQL, so several replicas share one. A batch is one multi-row INSERT (atomic);
 * `ON CONFLICT (id) DO NOTHING` makes a batch retried after a lost acknowledgement harmless.
 */

const migrations = (t: string): string[] => [
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
  CREATE INDEX IF NOT EXISTS ${t}_ts ON ${t} (ts);
  CREATE INDEX IF NOT EXISTS ${t}_key_ts ON ${t} (key_name, ts);`,
];

export interface PostgresUsageStoreOptions {
  /** Max connections (the ledger writes one batch at a time; queries take the others). */
  max?: number;
  /** Give up connecting after this (ms), so a down database fails a flush fast. */
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

  constructor(
    private readonly url: string,
    private readonly table = 'adapterpool_usage',
    private readonly opts: PostgresUsageStoreOptions = {},
  ) {}

  private db(): Promise<pg.Pool> {
    if (this.closed) return Promise.reject(new Error('the usage store is closed'));
    this.connecting ??= import('pg').then(({ default: pg }) => {
      const pool = new pg.Pool({ connectionString: this.url, max: this.opts.max ?? 4, connectionTimeoutMillis: this.opts.connectionTimeoutMs ?? 5000 });
      // An idle client losing its connection emits here; without a listener it would crash the process.
      pool.on('error', () => undefined);
      return pool;
    });
    return this.connecting;
  }

  async init(): Promise<void> {
    if (this.ready) return;
    const t = this.table;
    const c = await (await this.db()).connect();
    try {
      // One gateway migrates at a time (replicas start together); the lock ends with the transaction.
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${t}_migrations`]);
      await c.query(`CREATE TABLE IF NOT EXISTS ${t}_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`);
      const applied = new Set((await c.query<{ version: number }>(`SELECT version FROM ${t}_migrations`)).rows.map((r) => r.version));
      const list = migrations(t);
      for (let i = 0; i < list.length; i++) {
        if (applied.has(i + 1)) continue;
        await c.query(list[i]!);
        await c.query(`INSERT INTO ${t}_migrations (version, applied_at) VALUES ($1, $2)`, [i + 1, Date.now()]);
      }
      await c.query('COMMIT');
      this.ready = true;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  async insert(rows: readonly UsageRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.init();
    const n = COLUMNS.length;
    const values: Array<string | number | null> = [];
    const tuples: string[] = [];
    rows.forEach((r, i) => {
      values.push(...rowValues(r));
      tuples.push(`(${COLUMNS.map((_, j) => `$${i * n + j + 1}`).join(', ')})`);
    });
    await (await this.db()).query(`INSERT INTO ${this.table} (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING`, values);
  }

  async prune(before: number): Promise<number> {
    await this.init();
    const r = await (await this.db()).query(`DELETE FROM ${this.table} WHERE ts < $1`, [before]);
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
      FROM ${this.table} WHERE ${where} GROUP BY grp ORDER BY grp NULLS FIRST`,
      params,
    );
    return r.rows.map(toGroup);
  }

  async rows(from: number, to: number): Promise<UsageRow[]> {
    await this.init();
    const r = await (await this.db()).query(`SELECT * FROM ${this.table} WHERE ts >= $1 AND ts < $2 ORDER BY ts, id`, [from, to]);
    return r.rows.map(rowFrom);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A pool still being made is ended once it is.
    const pool = this.connecting;
    this.connecting = undefined;
    if (pool !== undefined) await (await pool).end();
  }
}
