import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SqliteUsageStore, type UsageRow } from '../../src/usage/index.js';

/**
 * Bug: the SQLite ledger ran on the event loop (better-sqlite3 is synchronous). Each 500-row batch
 * held every request in flight for ~1.5 ms, and a `GET /v1/usage` summary or a retention prune over a
 * large ledger for as long as the query took. The database now lives on the store's own thread.
 */

const rowAt = (i: number): UsageRow => ({
  id: `st-${i}`,
  ts: 1_700_000_000_000 + i,
  requestId: `r-${i}`,
  key: i % 2 === 0 ? 'a' : 'b',
  model: 'chat',
  deployment: 'chat:up',
  status: i % 10 === 0 ? 500 : 200,
  errorCode: i % 10 === 0 ? 'upstream_error' : null,
  promptTokens: 1,
  completionTokens: 2,
  totalTokens: 3,
  latencyMs: 12.4,
  ttftMs: null,
  stream: false,
  cost: null,
});

/** Turns of the event loop while `p` runs: 0 when the work behind it held the loop. */
async function turnsDuring<T>(p: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let done = false;
  const spin = () => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  const value = await p();
  done = true;
  return { value, turns };
}

describe('SQLite usage store: off the event loop', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ap-sqlite-thread-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a summary and a prune over 100,000 rows held the event loop for the whole query: the loop keeps turning', async () => {
    const store = new SqliteUsageStore(join(dir, 'usage.db'));
    try {
      await store.init();
      const rows = Array.from({ length: 100_000 }, (_, i) => rowAt(i));
      for (let i = 0; i < rows.length; i += 10_000) await store.insert(rows.slice(i, i + 10_000));

      const s = await turnsDuring(() => store.summary({ from: 0, to: Date.now(), groupBy: 'key' }));
      assert.deepEqual(
        s.value.map((g) => [g.group, g.requests, g.errors, g.total_tokens]),
        [
          ['a', 50_000, 10_000, 150_000],
          ['b', 50_000, 0, 150_000],
        ],
      );
      assert.ok(s.turns > 0, 'the event loop turned while the summary ran');

      const p = await turnsDuring(() => store.prune(1_700_000_000_000 + 60_000));
      assert.equal(p.value, 60_000);
      assert.ok(p.turns > 0, 'the event loop turned while the prune ran');
      assert.equal((await store.rows(0, Date.now())).length, 40_000);
    } finally {
      await store.close();
    }
  });

  test('an error on the store thread reaches the caller with its message and code, and the next call opens the file again', async () => {
    // A path under a regular file cannot be created, even by root.
    const blocker = join(dir, 'blocker');
    writeFileSync(blocker, 'not a directory');
    const store = new SqliteUsageStore(join(blocker, 'usage.db'));
    try {
      await assert.rejects(store.init(), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'EEXIST');
        assert.match(err.message, /already exists/);
        return true;
      });
      rmSync(blocker);
      await store.init();
      await store.insert([rowAt(1)]);
      assert.equal((await store.rows(0, Date.now())).length, 1);
    } finally {
      await store.close();
    }
  });

  test('close() ends the thread: nothing keeps the process alive, and a later call starts it again', async () => {
    const store = new SqliteUsageStore(join(dir, 'reopen.db'));
    await store.insert([rowAt(1)]);
    await store.close();
    await store.close();
    assert.equal((await store.rows(0, Date.now())).length, 1, 'the row was written before close');
    await store.close();
  });
});
