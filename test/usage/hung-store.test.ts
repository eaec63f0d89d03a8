import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import pg from 'pg';
import { PostgresUsageStore, UsageLedger, type UsageRow } from '../../src/usage/index.js';
import { call, eventually } from '../server/helpers.js';
import { metricValue, parseMetrics, startKeyedGateway } from '../server/keys-helpers.js';
import { PgRelay } from './pg-relay.js';

/**
 * Bug: with the ledger on a PostgreSQL that accepts connections but never answers (here: a relay
 * that stops forwarding), SIGTERM never finished — the gateway logged `shutdown_deadline` and stayed
 * up, `GET /v1/usage` hung, and the ledger never said the store could not be written. No query had a
 * time limit and the ledger's close() waited for its last write for good. Now every call to the
 * store gives up after `usage.queryTimeout`, and close() after the same time in all.
 */

const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const pgTable = () => `ap_usage_hang_${process.pid}_${randomBytes(4).toString('hex')}`;
/** The time limit of these tests (`usage.queryTimeout`). */
const LIMIT_MS = 500;
/** Slack for the event loop and the machine. */
const SLACK_MS = 400;

async function dropPg(table: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP TABLE IF EXISTS "${table}"`);
    await c.query(`DROP TABLE IF EXISTS "${table}_migrations"`);
  } finally {
    await c.end();
  }
}

let seq = 0;
function row(ts = Date.now()): UsageRow {
  seq++;
  return {
    id: `hang-${process.pid}-${seq}-${randomBytes(4).toString('hex')}`,
    ts,
    requestId: `r-${seq}`,
    key: 'k',
    model: 'chat',
    deployment: 'up:m',
    status: 200,
    errorCode: null,
    promptTokens: 1,
    completionTokens: 2,
    totalTokens: 3,
    latencyMs: 5,
    ttftMs: null,
    stream: false,
    cost: null,
  };
}

function ledgerOn(store: PostgresUsageStore, warnings: string[]): UsageLedger {
  return new UsageLedger(store, {
    batchSize: 100,
    flushIntervalMs: 50,
    maxBuffer: 1000,
    retentionDays: 0,
    pruneIntervalMs: 3_600_000,
    logger: { warn: (_o, msg) => warnings.push(msg), info: () => undefined },
  });
}

async function elapsed(p: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const t0 = Date.now();
  let error: unknown;
  try {
    await p;
  } catch (err) {
    error = err;
  }
  return { ms: Date.now() - t0, error };
}

describe('SIGTERM never finished while PostgreSQL was unresponsive', () => {
  test('close() of a ledger whose store hangs resolves within the bound and counts the unwritten rows dropped', { timeout: 20_000 }, async (t) => {
    const relay = await PgRelay.start();
    const table = pgTable();
    const warnings: string[] = [];
    const ledger = ledgerOn(new PostgresUsageStore(relay.url(), table, { timeoutMs: LIMIT_MS }), warnings);
    try {
      await ledger.start();
      assert.equal(ledger.healthy, true);
      for (let i = 0; i < 3; i++) ledger.record(row());
      await ledger.flush();
      assert.equal(ledger.written, 3);

      relay.pause();
      for (let i = 0; i < 5; i++) ledger.record(row());
      // The timer's write hangs, gives up after the limit, and takes the existing warning path.
      await eventually(() => ledger.healthy === false, 'the hung write given up on', LIMIT_MS + 2000);
      assert.ok(warnings.includes('usage ledger: the store cannot be written; rows are buffered and retried'), warnings.join('\n'));
      assert.equal(ledger.pending, 5, 'the rows stay buffered for a retry');

      const { ms } = await elapsed(ledger.close());
      t.diagnostic(`close(): ${ms} ms`);
      assert.ok(ms <= LIMIT_MS + SLACK_MS, `close() took ${ms} ms; the bound is ${LIMIT_MS} ms`);
      assert.equal(ledger.dropped, 5, 'the rows it could not write are counted dropped');
      assert.equal(ledger.written, 3);
      assert.equal(ledger.pending, 0);
      assert.ok(warnings.some((w) => w.includes('dropped')), warnings.join('\n'));
    } finally {
      await ledger.close();
      await relay.close();
      await dropPg(table);
    }
  });

  test('close() while its last write hangs (the store hung after the last good write) resolves within the bound', { timeout: 20_000 }, async (t) => {
    const relay = await PgRelay.start();
    const table = pgTable();
    const warnings: string[] = [];
    const store = new PostgresUsageStore(relay.url(), table, { timeoutMs: LIMIT_MS });
    const ledger = new UsageLedger(store, { batchSize: 100, flushIntervalMs: 3_600_000, maxBuffer: 1000, retentionDays: 0, pruneIntervalMs: 3_600_000, logger: { warn: (_o, msg) => warnings.push(msg), info: () => undefined } });
    try {
      await ledger.start();
      ledger.record(row());
      await ledger.flush();
      relay.pause();
      for (let i = 0; i < 4; i++) ledger.record(row());
      assert.equal(ledger.healthy, true, 'nothing has failed yet: close() makes the first try');
      const { ms } = await elapsed(ledger.close());
      t.diagnostic(`close(): ${ms} ms`);
      assert.ok(ms <= LIMIT_MS + SLACK_MS, `close() took ${ms} ms; the bound is ${LIMIT_MS} ms`);
      assert.equal(ledger.dropped, 4);
      assert.equal(ledger.written, 1);
    } finally {
      await relay.close();
      await dropPg(table);
    }
  });

  test('a summary query against the hung store rejects within the bound (idle connection, and connecting)', { timeout: 20_000 }, async (t) => {
    const relay = await PgRelay.start();
    const table = pgTable();
    const store = new PostgresUsageStore(relay.url(), table, { timeoutMs: LIMIT_MS });
    const fresh = new PostgresUsageStore(relay.url(), table, { timeoutMs: LIMIT_MS });
    const q = { from: 0, to: Date.now() + 1000, groupBy: 'key' as const };
    try {
      await store.init();
      await store.insert([row()]);
      assert.equal((await store.summary(q))[0]!.requests, 1);
      relay.pause();
      // A query on an open (idle) connection: pg's query_timeout.
      let r = await elapsed(store.summary(q));
      t.diagnostic(`summary on an idle connection: ${r.ms} ms (${String(r.error)})`);
      assert.ok(r.error instanceof Error, 'the summary rejects');
      assert.ok(r.ms <= LIMIT_MS + SLACK_MS, `the summary took ${r.ms} ms; the bound is ${LIMIT_MS} ms`);
      // A store that must connect first: the connection attempt's limit.
      r = await elapsed(fresh.summary(q));
      t.diagnostic(`summary while connecting: ${r.ms} ms (${String(r.error)})`);
      assert.ok(r.error instanceof Error, 'the summary of a store still connecting rejects');
      assert.ok(r.ms <= LIMIT_MS + SLACK_MS, `the summary took ${r.ms} ms; the bound is ${LIMIT_MS} ms`);
      // Writes and pruning too.
      r = await elapsed(store.insert([row()]));
      assert.ok(r.error instanceof Error && r.ms <= LIMIT_MS + SLACK_MS, `insert: ${r.ms} ms`);
      r = await elapsed(store.prune(0));
      assert.ok(r.error instanceof Error && r.ms <= LIMIT_MS + SLACK_MS, `prune: ${r.ms} ms`);
      // And closing the store does not wait on the server's side of the goodbye.
      r = await elapsed(Promise.all([store.close(), fresh.close()]));
      assert.equal(r.error, undefined);
      assert.ok(r.ms <= LIMIT_MS + SLACK_MS, `close: ${r.ms} ms`);
    } finally {
      await store.close();
      await fresh.close();
      await relay.close();
      await dropPg(table);
    }
  });

  test('after the hang the store is written again, every row once (the batch given up on may have landed)', { timeout: 20_000 }, async () => {
    const relay = await PgRelay.start();
    const table = pgTable();
    const warnings: string[] = [];
    const store = new PostgresUsageStore(relay.url(), table, { timeoutMs: LIMIT_MS });
    const ledger = ledgerOn(store, warnings);
    try {
      await ledger.start();
      ledger.record(row());
      await ledger.flush();
      relay.pause();
      for (let i = 0; i < 5; i++) ledger.record(row());
      await eventually(() => ledger.healthy === false, 'the hung write given up on', LIMIT_MS + 2000);
      relay.resume();
      await eventually(() => ledger.healthy === true && ledger.pending === 0, 'written again after the hang', 10_000);
      assert.equal(ledger.written, 6);
      assert.equal(ledger.dropped, 0);
      const rows = await store.rows(0, Date.now() + 1000);
      assert.equal(rows.length, 6, 'each row once');
      assert.ok(warnings.includes('usage ledger: the store cannot be written; rows are buffered and retried'));
    } finally {
      await ledger.close();
      await relay.close();
      await dropPg(table);
    }
  });

  test('gateway: GET /v1/usage answers 503 and close() finishes while PostgreSQL hangs', { timeout: 30_000 }, async (t) => {
    const relay = await PgRelay.start();
    const table = pgTable();
    const g = await startKeyedGateway(`server: { shutdownTimeout: 1s }
usage: { postgres: "${relay.url()}", table: ${table}, flushInterval: 50ms, queryTimeout: ${LIMIT_MS}ms }
providers:
  m: { type: mock }
models:
  chat: { providers: [{ provider: m, model: mock-chat }] }
`);
    const CHAT = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };
    let closed = false;
    try {
      const ledger = g.gw.ledger!;
      for (let i = 0; i < 3; i++) assert.equal((await call(g.url, 'POST', '/v1/chat/completions', { body: CHAT })).status, 200);
      await eventually(() => ledger.written === 3, 'the first rows written', 5000);
      assert.equal((await call(g.url, 'GET', '/v1/usage?group_by=model')).json.data.total.requests, 3);

      relay.pause();
      for (let i = 0; i < 2; i++) assert.equal((await call(g.url, 'POST', '/v1/chat/completions', { body: CHAT })).status, 200, 'requests never wait on the ledger');
      // The route first writes what is buffered (one try); when that fails it answers at once.
      // Regression: it then ran its query too, which waited the limit again (twice usage.queryTimeout).
      const u = await elapsed(call(g.url, 'GET', '/v1/usage').then((r) => assert.equal(r.status, 503)));
      t.diagnostic(`GET /v1/usage: ${u.ms} ms`);
      assert.equal(u.error, undefined);
      assert.ok(u.ms <= LIMIT_MS + SLACK_MS, `GET /v1/usage took ${u.ms} ms`);
      const res = await call(g.url, 'GET', '/v1/usage');
      assert.equal(res.status, 503);
      assert.equal(res.json.success, false);
      await eventually(() => g.logs.some((l) => l.includes('usage ledger: the store cannot be written')), 'the warning logged', 2000);

      const c = await elapsed(g.close());
      t.diagnostic(`gateway close(): ${c.ms} ms`);
      closed = true;
      assert.equal(c.error, undefined);
      assert.ok(c.ms <= LIMIT_MS + 1000 + SLACK_MS, `close() took ${c.ms} ms`);
      assert.equal(ledger.dropped, 2, 'the rows unwritten at shutdown are dropped and counted');
      assert.equal(metricValue(parseMetrics(await g.gw.metrics.registry.metrics()), 'adapterpool_usage_dropped_total'), 2);
    } finally {
      if (!closed) await g.close().catch(() => undefined);
      await relay.close();
      await dropPg(table);
    }
  });
});
