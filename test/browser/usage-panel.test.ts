import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { costOf, type UsageRow } from '../../src/usage/index.js';
import { call, Upstream } from '../server/helpers.js';
import { startKeyedGateway } from '../server/keys-helpers.js';
import { openBrowser, until, type Browser } from './helpers.js';

/**
 * The usage panel against a real ledger: a gateway with its SQLite file in a temp dir, two client
 * keys, traffic through a loopback upstream that reports usage, pricing on one model. Rows older
 * than an hour are written into the ledger directly, so the hour and the day differ.
 */

const A = 'sk-dash-team-a';
const B = 'sk-dash-team-b';
const ADMIN = 'sk-dash-admin';
const HOUR = 3_600_000;
const PRICING = { input: 2, output: 8 };
/** What the upstream reports, by upstream model. */
const REPORTED: Record<string, { prompt: number; completion: number }> = { 'up-priced': { prompt: 100, completion: 40 }, 'up-plain': { prompt: 7, completion: 3 } };

const config = (upstream: string): string => `
auth:
  adminKey: "${ADMIN}"
  keys:
    - { name: team-a, key: "${A}" }
    - { name: team-b, key: "${B}" }
usage: { flushInterval: 50ms }
pool: { minPoolSize: 1 }
routing: { maxAttempts: 1 }
providers:
  loop: { type: openai-compatible, baseUrl: "${upstream}", apiKey: "sk-upstream-secret" }
models:
  priced:
    pricing: { input: ${PRICING.input}, output: ${PRICING.output} }
    providers: [{ provider: loop, model: up-priced }]
  plain: { providers: [{ provider: loop, model: up-plain }] }
`;

interface Group {
  group: string | null;
  requests: number;
  total_tokens: number;
  cost: number;
  priced_requests: number;
}

async function usage(url: string, key: string, groupBy: string, sinceMs: number): Promise<{ groups: Group[]; key?: string }> {
  const r = await call(url, 'GET', `/v1/usage?group_by=${groupBy}&from=${(Date.now() - sinceMs) / 1000}`, { key });
  assert.equal(r.status, 200, r.text);
  return r.json.data;
}

function oldRow(key: string, model: string, upstreamModel: string, ts: number, priced: boolean): UsageRow {
  const t = REPORTED[upstreamModel]!;
  return {
    id: randomUUID(),
    ts,
    requestId: `old-${randomUUID()}`,
    key,
    model,
    deployment: `${upstreamModel}:loop`,
    status: 200,
    errorCode: null,
    promptTokens: t.prompt,
    completionTokens: t.completion,
    totalTokens: t.prompt + t.completion,
    latencyMs: 12,
    ttftMs: null,
    stream: false,
    cost: costOf(priced ? PRICING : undefined, t.prompt, t.completion),
  };
}

/** The panel's cells for one row: text of each field, and the raw cost values. */
async function cells(page: Page, table: string, group: string): Promise<Record<string, string>> {
  const found = await page
    .locator(`#${table} tr[data-usage-row="${group}"] [data-field]`)
    .evaluateAll((tds) => tds.map((td) => [td.getAttribute('data-field'), td.textContent, td.getAttribute('data-value')]));
  const out: Record<string, string> = {};
  for (const [field, text, value] of found) {
    out[field!] = text ?? '';
    if (value !== null) out[`${field}_value`] = value!;
  }
  return out;
}

/** Every group /v1/usage returns for the hour and the day is in the panel's table with the same numbers. */
async function assertTableMatches(page: Page, table: string, hour: Group[], day: Group[]): Promise<void> {
  const shown = await page.locator(`#${table} tbody tr[data-usage-row]`).evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-usage-row')));
  assert.deepEqual([...shown].sort(), day.map((g) => g.group ?? '').sort(), `${table}: one row per group of the last day`);
  for (const [span, groups] of [['hour', hour], ['day', day]] as const) {
    for (const g of groups) {
      const c = await cells(page, table, g.group ?? '');
      assert.equal(c[`${span}_requests`], String(g.requests), `${table} ${g.group} ${span} requests`);
      assert.equal(c[`${span}_tokens`], String(g.total_tokens), `${table} ${g.group} ${span} tokens`);
      if (g.priced_requests > 0) {
        assert.ok(Math.abs(Number(c[`${span}_cost_value`]) - g.cost) < 1e-12, `${table} ${g.group} ${span} cost value`);
        assert.notEqual(c[`${span}_cost`], '\u2013');
      } else assert.equal(c[`${span}_cost`], '\u2013', `${table} ${g.group} ${span}: no price, no cost`);
    }
  }
}

describe('dashboard usage panel', () => {
  let up: Upstream;
  let g: Awaited<ReturnType<typeof startKeyedGateway>>;
  let off: Awaited<ReturnType<typeof startKeyedGateway>>;
  let browser: Browser;

  before(async () => {
    up = await Upstream.start();
    up.onChat = (req) => {
      const t = REPORTED[req.body.model as string]!;
      req.res.writeHead(200, { 'content-type': 'application/json' });
      req.res.end(JSON.stringify({
        id: 'chatcmpl-up', object: 'chat.completion', created: 1, model: req.body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: 'counted' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: t.prompt, completion_tokens: t.completion, total_tokens: t.prompt + t.completion },
      }));
    };
    g = await startKeyedGateway(config(up.url));
    off = await startKeyedGateway(`usage: { enabled: false }
providers: { m: { type: mock } }
models: { chat: { providers: [{ provider: m, model: mock-chat }] } }
`);
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    await g?.close();
    await off?.close();
    await up?.close();
  });

  it('shows requests, tokens and cost per key and per model for the last hour and the last day, as /v1/usage says', async () => {
    const send = async (key: string, model: string) => {
      const r = await call(g.url, 'POST', '/v1/chat/completions', { key, body: { model, messages: [{ role: 'user', content: 'count me' }] } });
      assert.equal(r.status, 200, r.text);
    };
    for (let i = 0; i < 3; i++) await send(A, 'priced');
    await send(A, 'plain');
    for (let i = 0; i < 2; i++) await send(B, 'plain');
    // Earlier today: team-b used the priced model 3 hours ago; a row from 30 hours ago is in neither window.
    const now = Date.now();
    await g.gw.ledger!.store.insert([
      oldRow('team-b', 'priced', 'up-priced', now - 3 * HOUR, true),
      oldRow('team-b', 'priced', 'up-priced', now - 3 * HOUR + 1000, true),
      oldRow('team-a', 'plain', 'up-plain', now - 30 * HOUR, false),
    ]);

    const page = browser.page;
    await page.goto(`${g.url}/dashboard`);
    await page.locator('#auth:not(.hidden)').waitFor();
    await page.fill('#auth-key', ADMIN);
    await page.click('#auth-form button[type=submit]');
    await page.locator('#usage[data-state="ok"]').waitFor();
    assert.match(await page.locator('#usage-scope').innerText(), /every key/);

    const [keyHour, keyDay, modelHour, modelDay] = await Promise.all([
      usage(g.url, ADMIN, 'key', HOUR), usage(g.url, ADMIN, 'key', 24 * HOUR), usage(g.url, ADMIN, 'model', HOUR), usage(g.url, ADMIN, 'model', 24 * HOUR),
    ]);
    await assertTableMatches(page, 'usage-by-key', keyHour.groups, keyDay.groups);
    await assertTableMatches(page, 'usage-by-model', modelHour.groups, modelDay.groups);

    // The numbers themselves, so a panel and an endpoint wrong the same way still fail.
    const priced = (n: number) => (n * (REPORTED['up-priced']!.prompt * PRICING.input + REPORTED['up-priced']!.completion * PRICING.output)) / 1e6;
    const a = await cells(page, 'usage-by-key', 'team-a');
    assert.deepEqual([a.hour_requests, a.hour_tokens, a.day_requests, a.day_tokens], ['4', String(3 * 140 + 10), '4', String(3 * 140 + 10)]);
    assert.ok(Math.abs(Number(a.hour_cost_value) - priced(3)) < 1e-12);
    const b = await cells(page, 'usage-by-key', 'team-b');
    assert.deepEqual([b.hour_requests, b.hour_tokens, b.hour_cost], ['2', '20', '\u2013'], 'team-b used only the unpriced model this hour');
    assert.deepEqual([b.day_requests, b.day_tokens], ['4', String(20 + 2 * 140)]);
    assert.ok(Math.abs(Number(b.day_cost_value) - priced(2)) < 1e-12);
    assert.equal(b.day_cost, String(Number(priced(2).toPrecision(3))), 'a plain number: the config names no currency');
    const plain = await cells(page, 'usage-by-model', 'plain');
    assert.deepEqual([plain.hour_requests, plain.day_requests, plain.hour_cost, plain.day_cost], ['3', '3', '\u2013', '\u2013']);
    const pricedRow = await cells(page, 'usage-by-model', 'priced');
    assert.deepEqual([pricedRow.hour_requests, pricedRow.day_requests], ['3', '5']);
    // Each column explains itself.
    assert.match((await page.locator('#usage-by-key th', { hasText: 'Cost' }).first().getAttribute('title')) ?? '', /pricing/);
    assert.match((await page.locator('#usage-by-key th', { hasText: 'Last hour' }).getAttribute('title')) ?? '', /60 minutes/);
    assert.equal(browser.errors.length, 0, browser.errors.join('\n'));
  });

  it('a client key sees only its own usage', async () => {
    const page = browser.page;
    await page.evaluate(`sessionStorage.setItem('adapterpool.readKey', ${JSON.stringify(B)})`);
    await page.reload();
    await page.locator('#usage[data-state="ok"]').waitFor();
    assert.match(await page.locator('#usage-scope').innerText(), /your key only/);
    const own = await usage(g.url, B, 'key', 24 * HOUR);
    assert.equal(own.key, 'team-b');
    const rows = await page.locator('#usage-by-key tbody tr[data-usage-row]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-usage-row')));
    assert.deepEqual(rows, ['team-b']);
    assert.equal((await cells(page, 'usage-by-key', 'team-b')).day_requests, '4');
    assert.equal(browser.errors.length, 0, browser.errors.join('\n'));
  });

  it('with usage disabled the panel says so', async () => {
    const page = browser.page;
    await page.goto(`${off.url}/dashboard`);
    await page.locator('#usage[data-state="off"]').waitFor();
    assert.match(await page.locator('#usage-note').innerText(), /usage ledger is off on this gateway \(usage\.enabled: false\)/);
    assert.ok(await page.locator('#usage-tables').evaluate((e) => e.classList.contains('hidden')), 'no empty tables');
    // The rest of the page works.
    await until(() => page.locator('[data-pool]').count(), (n) => n === 1, 'the pool is shown');
    assert.ok(await page.locator('#error').evaluate((e) => e.classList.contains('hidden')), 'no refresh error');
    assert.equal(browser.errors.length, 0, browser.errors.join('\n'));
  });
});
