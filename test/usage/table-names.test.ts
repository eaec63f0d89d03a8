import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ConfigError, parseConfig } from '../../src/config/index.js';
import { PostgresUsageStore, SqliteUsageStore, type UsageRow, type UsageStore } from '../../src/usage/index.js';

/**
 * Bug: some `usage.table` names passed the config check but broke the ledger. `table: user` (a
 * reserved word) failed with `syntax error at or near "user"` because names went into SQL bare; a
 * 63-character name had its `<table>_migrations` cut to PostgreSQL's 63-byte limit, i.e. to the
 * table's own name (`column "ts" does not exist`). Names are now quoted in both stores, and the
 * config refuses a name too long for the names derived from it.
 */

const PG_BASE = 'postgres://postgres@127.0.0.1:5432/test';
const BASE = `providers:
  a: { type: mock }
models:
  chat: { providers: [{ provider: a }] }
`;

let seq = 0;
function row(ts: number, key: string | null = 'k'): UsageRow {
  seq++;
  return {
    id: `tn-${process.pid}-${seq}-${randomBytes(4).toString('hex')}`,
    ts,
    requestId: `r-${seq}`,
    key,
    model: 'chat',
    deployment: 'up:a',
    status: seq % 3 === 0 ? 500 : 200,
    errorCode: null,
    promptTokens: 2,
    completionTokens: 3,
    totalTokens: 5,
    latencyMs: 7,
    ttftMs: null,
    stream: false,
    cost: 0.5,
  };
}

/** init, insert, summary, rows, prune, and a second init (migrations already applied). */
async function exercise(make: () => UsageStore): Promise<void> {
  const now = Date.now();
  let store = make();
  try {
    await store.init();
    await store.insert([row(now - 10_000), row(now - 5000), row(now - 5000, null), row(1000)]);
    const groups = await store.summary({ from: now - 60_000, to: now + 1, groupBy: 'key' });
    assert.deepEqual(
      groups.map((g) => [g.group, g.requests]),
      [
        [null, 1],
        ['k', 2],
      ],
    );
    assert.equal((await store.summary({ from: 0, to: now + 1, groupBy: 'day', key: 'k' })).reduce((a, g) => a + g.requests, 0), 3);
    assert.equal((await store.rows(0, now + 1)).length, 4);
    assert.equal(await store.prune(now - 60_000), 1);
  } finally {
    await store.close();
  }
  store = make();
  try {
    await store.init();
    assert.equal((await store.rows(0, now + 1)).length, 3, 'reopened: the same table');
  } finally {
    await store.close();
  }
}

describe('usage.table names that passed the config check but broke the ledger', () => {
  describe('reserved words as table names', () => {
    let dir: string;
    /** A PostgreSQL schema of this run's own, so `user` and `order` do not meet another run's. */
    const schema = `ap_tn_${process.pid}_${randomBytes(4).toString('hex')}`;
    const pgUrl = `${PG_BASE}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const admin = () => new pg.Client({ connectionString: PG_BASE });

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ap-tn-'));
      const c = admin();
      await c.connect();
      await c.query(`CREATE SCHEMA ${schema}`);
      await c.end();
    });
    after(async () => {
      rmSync(dir, { recursive: true, force: true });
      const c = admin();
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    });

    for (const table of ['user', 'order', 'select', 'group']) {
      test(`SQLite: table "${table}"`, async () => {
        assert.equal(parseConfig(`usage: { table: ${table} }\n${BASE}`, { env: {} }).usage.table, table, 'the config accepts it');
        await exercise(() => new SqliteUsageStore(join(dir, 'usage.db'), table));
      });
      test(`PostgreSQL: table "${table}"`, async () => {
        await exercise(() => new PostgresUsageStore(pgUrl, table));
      });
    }

    test('PostgreSQL: a mixed-case name is the table earlier versions made with it bare (folded to lower case)', async () => {
      const table = 'Ap_Mixed_Case';
      // What an earlier version left: the name bare, so PostgreSQL made ap_mixed_case, at version 1.
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      try {
        await c.query(`CREATE TABLE ${table}_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`);
        await c.query(`CREATE TABLE ${table} (id TEXT PRIMARY KEY, ts BIGINT NOT NULL, request_id TEXT NOT NULL, key_name TEXT, model TEXT NOT NULL,
          deployment TEXT, status INTEGER NOT NULL, error_code TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, total_tokens INTEGER,
          latency_ms INTEGER NOT NULL, ttft_ms INTEGER, stream SMALLINT NOT NULL, cost DOUBLE PRECISION)`);
        await c.query(`INSERT INTO ${table}_migrations VALUES (1, 0)`);
        await c.query(`INSERT INTO ${table} VALUES ('old-row', 5, 'r', 'k', 'chat', NULL, 200, NULL, 1, 1, 2, 3, NULL, 0, NULL)`);
      } finally {
        await c.end();
      }
      const store = new PostgresUsageStore(pgUrl, table);
      try {
        await store.init();
        await store.insert([row(10)]);
        assert.deepEqual(
          (await store.rows(0, 100)).map((r) => r.id).slice(0, 1),
          ['old-row'],
          'the rows written before are found',
        );
      } finally {
        await store.close();
      }
      const check = new pg.Client({ connectionString: pgUrl });
      await check.connect();
      try {
        const names = (await check.query<{ relname: string }>(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = $1 AND relname ILIKE 'ap_mixed_case%' ORDER BY 1`, [schema])).rows.map((r) => r.relname);
        assert.ok(!names.some((n) => n !== n.toLowerCase()), `no second, mixed-case table: ${names.join(', ')}`);
      } finally {
        await check.end();
      }
    });
  });

  describe('name length', () => {
    function issues(text: string): string {
      try {
        parseConfig(text, { source: 't.yaml', env: {} });
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.message;
      }
      return assert.fail('expected the config to be rejected');
    }

    test('a table name too long for <table>_migrations is refused by parseConfig, naming the field', () => {
      const long = `t${'x'.repeat(52)}`; // 53 characters
      const message = issues(`usage: { table: ${long} }\n${BASE}`);
      assert.match(message, /usage\.table/);
      assert.match(message, /at most 52 characters/);
      assert.match(message, /_migrations/);
      assert.match(issues(`usage: { table: t${'x'.repeat(62)} }\n${BASE}`), /usage\.table.*at most 52/s, 'the 63-character name of the report');
      assert.equal(parseConfig(`usage: { table: t${'x'.repeat(51)} }\n${BASE}`, { env: {} }).usage.table.length, 52);
    });

    test('SQLite-reserved names are refused too', () => {
      assert.match(issues(`usage: { table: sqlite_usage }\n${BASE}`), /usage\.table.*reserved by SQLite/s);
    });

    test('PostgreSQL: the longest name allowed (52) works, and its derived names are all distinct', async () => {
      const table = `ap_tn_${process.pid}_${randomBytes(4).toString('hex')}`.padEnd(52, 'x');
      assert.equal(table.length, 52);
      parseConfig(`usage: { table: ${table} }\n${BASE}`, { env: {} });
      try {
        await exercise(() => new PostgresUsageStore(PG_BASE, table));
        const c = new pg.Client({ connectionString: PG_BASE });
        await c.connect();
        try {
          const names = (await c.query<{ relname: string }>(`SELECT relname FROM pg_class WHERE relname LIKE $1 ORDER BY 1`, [`${table}%`])).rows.map((r) => r.relname);
          for (const n of [table, `${table}_migrations`, `${table}_ts`, `${table}_key_ts`]) assert.ok(names.includes(n), `${n} exists: ${names.join(', ')}`);
        } finally {
          await c.end();
        }
      } finally {
        const c = new pg.Client({ connectionString: PG_BASE });
        await c.connect();
        await c.query(`DROP TABLE IF EXISTS "${table}"`);
        await c.query(`DROP TABLE IF EXISTS "${table}_migrations"`);
        await c.end();
      }
    });
  });

  test('usage.queryTimeout: default 10s; must be a positive duration', () => {
    assert.equal(parseConfig(BASE, { env: {} }).usage.queryTimeout, 10_000);
    assert.equal(parseConfig(`usage: { queryTimeout: 250ms }\n${BASE}`, { env: {} }).usage.queryTimeout, 250);
    assert.throws(() => parseConfig(`usage: { queryTimeout: 0 }\n${BASE}`, { env: {} }), /usage\.queryTimeout/);
    assert.throws(() => parseConfig(`usage: { queryTimeout: 25d }\n${BASE}`, { env: {} }), /usage\.queryTimeout.*24 days/s);
  });
});
