import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { call, eventually, Upstream } from '../server/helpers.js';
import { metricValue, parseMetrics, startKeyedGateway } from '../server/keys-helpers.js';
import { assertRowsMatch, mixedUpstream, MIXED_CONFIG, sendMixed } from './mixed.js';

const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
/** A table of its own per test run, dropped after. */
const pgTable = () => `ap_usage_test_${process.pid}_${randomBytes(4).toString('hex')}`;

async function dropPg(table: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP TABLE IF EXISTS ${table}`);
    await c.query(`DROP TABLE IF EXISTS ${table}_migrations`);
  } finally {
    await c.end();
  }
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('usage ledger: 1,000 mixed requests', () => {
  let up: Upstream;
  before(async () => {
    up = await Upstream.start();
  });
  after(() => up.close());

  for (const store of ['sqlite', 'postgres'] as const) {
    test(`${store}: exactly 1,000 rows whose tokens match what the upstream reported`, async () => {
      const reported = mixedUpstream(up);
      const table = pgTable();
      const g = await startKeyedGateway(MIXED_CONFIG(up.url, store === 'sqlite' ? '{ flushInterval: 50ms }' : `{ postgres: "${PG_URL}", table: ${table}, flushInterval: 50ms }`));
      try {
        await sendMixed(g.url);
        const ledger = g.gw.ledger!;
        // Hang-ups end on the gateway a moment after the client's abort.
        await eventually(() => ledger.pending + ledger.written === 1000, 'a row for every request', 20_000);
        await ledger.flush();
        assert.equal(ledger.dropped, 0);
        assertRowsMatch(await ledger.store.rows(0, Date.now() + 1), reported);
        const usage = await call(g.url, 'GET', '/v1/usage?group_by=model');
        assert.equal(usage.json.data.groups.length, 1);
        assert.equal(usage.json.data.groups[0].requests, 1000);
        assert.equal(usage.json.data.groups[0].errors, 400, '200 failures + 200 hang-ups');
        const sum = [...reported.values()].reduce((a, r) => a + (r === null ? 0 : r.prompt + r.completion), 0);
        assert.equal(usage.json.data.total.total_tokens, sum);
        const priced = [...reported.values()].filter((r) => r !== null).length;
        assert.equal(usage.json.data.groups[0].priced_requests, priced, 'rows with a cost: the model has pricing and the upstream reported tokens');
      } finally {
        await g.close();
        if (store === 'postgres') await dropPg(table);
      }
    });
  }
});

describe('usage ledger: durability and failure', () => {
  const CHAT = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };
  const config = (usage: string) => `usage: ${usage}
providers:
  m: { type: mock }
models:
  chat: { providers: [{ provider: m, model: mock-chat }] }
`;

  test('the SQLite ledger survives a restart', async () => {
    const a = await startKeyedGateway(config('{ flushInterval: 50ms }'));
    const path = a.gw.config.usage.path;
    for (let i = 0; i < 5; i++) assert.equal((await call(a.url, 'POST', '/v1/chat/completions', { body: CHAT })).status, 200);
    await a.gw.close(2000); // flushes; keep the directory
    const b = await startKeyedGateway(config(`{ path: "${path}", flushInterval: 50ms }`));
    try {
      let r = await call(b.url, 'GET', '/v1/usage?group_by=model');
      assert.equal(r.status, 200);
      assert.equal(r.json.data.total.requests, 5);
      for (let i = 0; i < 2; i++) await call(b.url, 'POST', '/v1/chat/completions', { body: CHAT });
      r = await call(b.url, 'GET', '/v1/usage?group_by=model');
      assert.equal(r.json.data.total.requests, 7);
    } finally {
      await b.close();
      await a.close().catch(() => undefined);
    }
  });

  for (const kind of ['read-only SQLite path', 'PostgreSQL on a closed port'] as const) {
    test(`a ledger that cannot be written (${kind}) never fails a request and counts what it drops`, async () => {
      let usage: string;
      let blocker: string | undefined;
      if (kind === 'read-only SQLite path') {
        // A path under a regular file cannot be created, even by root.
        blocker = join(process.env.TMPDIR ?? '/tmp', `ap-blocker-${process.pid}-${randomBytes(3).toString('hex')}`);
        writeFileSync(blocker, 'not a directory');
        usage = `{ path: "${blocker}/usage.db", maxBuffer: 5, flushInterval: 20ms }`;
      } else {
        usage = `{ postgres: "postgres://postgres@127.0.0.1:${await closedPort()}/test", maxBuffer: 5, flushInterval: 20ms }`;
      }
      const g = await startKeyedGateway(config(usage));
      try {
        const results = await Promise.all(Array.from({ length: 20 }, () => call(g.url, 'POST', '/v1/chat/completions', { body: CHAT })));
        assert.deepEqual(new Set(results.map((r) => r.status)), new Set([200]));
        const ledger = g.gw.ledger!;
        await eventually(() => ledger.healthy === false, 'the failed write noticed');
        assert.equal(ledger.dropped, 15, 'the buffer holds 5; 15 rows had no room');
        assert.equal(ledger.pending, 5);
        const m = parseMetrics((await call(g.url, 'GET', '/metrics')).text);
        assert.equal(metricValue(m, 'adapterpool_usage_dropped_total'), 15);
        assert.equal(metricValue(m, 'adapterpool_usage_pending'), 5);
        const u = await call(g.url, 'GET', '/v1/usage');
        assert.equal(u.status, 503);
        assert.equal(u.json.success, false);
        // Still serving.
        assert.equal((await call(g.url, 'POST', '/v1/chat/completions', { body: { ...CHAT, stream: true } })).status, 200);
        assert.ok(g.logs.some((l) => l.includes('usage ledger: the store cannot be written')));
        assert.equal(g.logs.filter((l) => l.includes('usage ledger: the store cannot be written')).length, 1, 'logged once per change of state, not per retry');
      } finally {
        await g.close();
        if (blocker !== undefined) rmSync(blocker, { force: true });
      }
      assert.equal(g.gw.ledger!.dropped, 21, 'what was still buffered at shutdown is dropped and counted');
    });
  }
});

describe('usage reports of a misbehaving upstream', () => {
  let up: Upstream;
  before(async () => {
    up = await Upstream.start();
  });
  after(() => up.close());

  const BAD: ReadonlyArray<Record<string, unknown>> = [
    { prompt_tokens: 5, completion_tokens: 1e308, total_tokens: 1e308 },
    { prompt_tokens: 'x', completion_tokens: 2, total_tokens: 'x' },
    { prompt_tokens: -5, completion_tokens: 2.5, total_tokens: -2.5 },
    { prompt_tokens: 3_000_000_000, completion_tokens: 1, total_tokens: 3_000_000_001 },
  ];

  test('a usage report that is not token counts (1e308, "x", -5, 2.5, 3e9) stopped the PostgreSQL ledger and poisoned the token metrics', async () => {
    // n=0..3: one bad report each; n=4..5: a good one (prompt 3, completion 4).
    up.onChat = (req) => {
      const n = Number(/^n=(\d+)$/.exec(String(req.body?.messages?.[0]?.content))?.[1]);
      const usage = BAD[n] ?? { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 };
      req.res.writeHead(200, { 'content-type': 'application/json' });
      req.res.end(JSON.stringify({ id: `c${n}`, object: 'chat.completion', created: 1, model: 'up-model', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage }));
    };
    const table = pgTable();
    const g = await startKeyedGateway(MIXED_CONFIG(up.url, `{ postgres: "${PG_URL}", table: ${table}, flushInterval: 20ms }`));
    try {
      for (let n = 0; n < 6; n++) {
        const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'chat', messages: [{ role: 'user', content: `n=${n}` }] } });
        assert.equal(r.status, 200, r.text);
      }
      const ledger = g.gw.ledger!;
      await eventually(() => ledger.written === 6, `every row written (written ${ledger.written}, pending ${ledger.pending}, healthy ${ledger.healthy})`, 10_000);
      const rows = await ledger.store.rows(0, Date.now() + 1);
      const tokens = rows.map((r) => [r.promptTokens, r.completionTokens, r.totalTokens]);
      assert.equal(tokens.filter((t) => t.every((v) => v === null)).length, 4, `a report that is not token counts is recorded as none: ${JSON.stringify(tokens)}`);
      assert.equal(tokens.filter((t) => t.join() === '3,4,7').length, 2);
      const m = parseMetrics((await call(g.url, 'GET', '/metrics')).text);
      assert.equal(metricValue(m, 'adapterpool_tokens_total', { type: 'completion' }), 8, 'only the good reports count');
      assert.equal(metricValue(m, 'adapterpool_tokens_total', { type: 'prompt' }), 6);
    } finally {
      await g.close();
      await dropPg(table);
    }
  });
});
