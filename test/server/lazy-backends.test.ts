import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { call, upstreamGateway } from './helpers.js';

// Each test file runs in its own process (node --test), so what this one loaded is this gateway's doing.
const loaded = (pkg: string) => Object.keys(createRequire(import.meta.url).cache).some((path) => path.includes(`/node_modules/${pkg}/`));

describe('shared-state backends are loaded only when configured', () => {
  // helpers' gateway keeps the SQLite ledger on and has no cluster section.
  const ctx = upstreamGateway();

  test('a single gateway with a SQLite ledger and JSON logs serves without loading ioredis, pg or pino-pretty (~10 MB of RSS it would never use)', async () => {
    const r = await call(ctx.g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(r.status, 200);
    assert.equal(ctx.g.gw.ledger !== undefined, true, 'the ledger is on');
    assert.equal(loaded('fastify'), true, 'the check itself sees CommonJS packages');
    assert.equal(loaded('ioredis'), false);
    assert.equal(loaded('pg'), false);
    assert.equal(loaded('pino-pretty'), false, 'JSON logs need no pino-pretty');
  });

  test('a SQLite ledger batch held the event loop (500 rows: ~1.5 ms, a stall for every request in flight): the database lives on its own thread', async () => {
    const ledger = ctx.g.gw.ledger!;
    const r = await call(ctx.g.url, 'POST', '/v1/chat/completions', { body: { model: 'up', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(r.status, 200);
    await ledger.flush();
    assert.equal(ledger.healthy, true);
    const rows = await ledger.store.rows(0, Date.now() + 1);
    assert.ok(rows.some((row) => row.requestId === r.headers.get('x-request-id')), 'the row was written and reads back');
    assert.equal(loaded('better-sqlite3'), false, 'better-sqlite3 is loaded on the ledger thread, not here');
  });
});
