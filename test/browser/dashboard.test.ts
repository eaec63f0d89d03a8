import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { parseConfig } from '../../src/config/index.js';
import { PROVIDER_TYPES } from '../../src/providers/registry.js';
import { buildGateway, createLogger, type Gateway } from '../../src/server/index.js';
import { openBrowser, until, type Browser } from './helpers.js';

/**
 * The dashboard in headless Chromium (Debian's `chromium` package driven by playwright-core; no
 * browser download). Run with `npm run test:browser`; `CHROMIUM_PATH` overrides /usr/bin/chromium.
 * Writes `test-results/dashboard.png`.
 */

const SCREENSHOT = path.resolve(process.env.SCREENSHOT_DIR ?? 'test-results', 'dashboard.png');
const API_KEY = 'browser-api-key';
const ADMIN_KEY = 'browser-admin-key';

const YAML = `
server: { host: 127.0.0.1, port: 0 }
auth: { apiKeys: [${API_KEY}], adminKey: ${ADMIN_KEY} }
pool: { minPoolSize: 2, maxPoolSize: 6, healthCheckInterval: 1h, cleanupInterval: 1h }
routing: { retryBackoffInitial: 1ms, retryBackoffMax: 2ms, circuitConsecutiveFailures: 2, circuitCooldown: 10m }
providers:
  openai-like: { type: mock, apiKey: sk-browser-secret, mock: { latency: 20ms, chunks: 4, chunkDelay: 5ms } }
  backup: { type: mock, mock: { latency: 40ms } }
  broken: { type: mock, mock: { failRate: 1, failStatus: 500 } }
  sick: { type: mock, mock: { unhealthy: true } }
  batch: { type: mock, mock: { latency: 5s } }
  down: { type: mock, mock: { failRate: 1, failStatus: 500 } }
models:
  gpt-demo:
    strategy: round_robin
    providers:
      - { provider: openai-like, model: demo-large }
      - { provider: backup, model: demo-large }
  fallback-demo:
    strategy: failover
    providers:
      - { provider: broken, model: demo-small, priority: 0 }
      - { provider: backup, model: demo-small, priority: 1 }
  canary:
    providers: [{ provider: sick, model: demo-canary, pool: { minPoolSize: 1 } }]
  slow-demo:
    providers: [{ provider: batch, model: demo-batch, pool: { minPoolSize: 1, maxPoolSize: 3 } }]
  doomed:
    providers: [{ provider: down, model: demo-doomed, pool: { minPoolSize: 1 } }]
`;

const POOLS = ['demo-large:openai-like', 'demo-large:backup', 'demo-small:broken', 'demo-small:backup', 'demo-canary:sick', 'demo-batch:batch', 'demo-doomed:down'];

async function chat(url: string, model: string, stream = false): Promise<number> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello from the browser test' }], stream }),
  });
  await res.arrayBuffer();
  return res.status;
}

const text = (page: Page, selector: string): Promise<string> => page.locator(selector).first().innerText();

describe('dashboard in headless Chromium', () => {
  let gw: Gateway;
  let url: string;
  let browser: Browser;
  let page: Page;
  let pageErrors: string[] = [];
  let ledgerDir: string | undefined;

  before(async () => {
    const config = parseConfig(YAML, { source: 'dashboard-test.yaml', env: {}, providerTypes: PROVIDER_TYPES });
    // The usage ledger in a temp dir, not the working directory.
    ledgerDir = await mkdtemp(path.join(tmpdir(), 'adapterpool-dash-usage-'));
    config.usage.path = path.join(ledgerDir, 'usage.db');
    const quiet = new Writable({ write: (_c, _e, cb) => cb() });
    gw = await buildGateway(config, { logger: createLogger('warn', quiet) });
    url = await gw.listen({ port: 0 });
    browser = await openBrowser();
    page = browser.page;
    pageErrors = browser.errors;
  });

  after(async () => {
    await browser?.close();
    await gw?.close(2000);
    if (ledgerDir) await rm(ledgerDir, { recursive: true, force: true });
  });

  it('asks for the read key, then shows every pool', async () => {
    const res = await page.goto(`${url}/dashboard`);
    assert.equal(res?.status(), 200);
    assert.equal(await page.title(), 'adapterpool dashboard');
    // The gateway has API keys: the page's reads are refused until a key is given.
    await page.locator('#auth:not(.hidden)').waitFor();
    // Regression: without a key the page went on polling, four refused reads every 2 s; it waits for one.
    let reads = 0;
    const countReads = (r: { url(): string }) => {
      if (r.url().includes('/v1/pool/')) reads++;
    };
    page.on('request', countReads);
    await sleep(4500);
    page.off('request', countReads);
    assert.equal(reads, 0, 'no reads while no key is given');
    // A wrong key: refused, and the banner says so (it used to stay unchanged).
    await page.fill('#auth-key', 'not-a-key-of-this-gateway');
    await page.click('#auth-form button[type=submit]');
    await page.locator('#auth-refused:text("refused")').waitFor();
    await page.fill('#auth-key', API_KEY);
    await page.click('#auth-form button[type=submit]');
    for (const key of POOLS) await page.locator(`[data-pool="${key}"]`).waitFor();
    assert.equal(await page.locator('[data-pool]').count(), POOLS.length);
    assert.ok(await page.locator('#auth').evaluate((e) => e.classList.contains('hidden')));
    assert.equal(await text(page, '[data-summary="pools"] .v'), String(POOLS.length));
    // Every configured deployment has its row, circuits closed before any traffic.
    assert.equal(await page.locator('#deployments tbody tr').count(), POOLS.length);
    assert.equal(await text(page, 'tr[data-deployment="demo-large:openai-like"] [data-field="circuit"]'), 'closed');
    assert.equal(await text(page, 'tr[data-deployment="demo-large:openai-like"] [data-field="requests"]'), '0');
  });

  it('follows traffic: requests, latency and success per deployment, adapters, circuit state', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await chat(url, 'gpt-demo', i % 3 === 2));
    for (let i = 0; i < 3; i++) statuses.push(await chat(url, 'fallback-demo'));
    assert.ok(statuses.every((s) => s === 200), String(statuses));

    const row = (key: string, field: string) => text(page, `tr[data-deployment="${key}"] [data-field="${field}"]`);
    await until(() => row('demo-large:openai-like', 'requests'), (v) => v === '3', 'openai-like served 3 requests');
    assert.equal(await row('demo-large:backup', 'requests'), '3');
    assert.equal(await row('demo-large:openai-like', 'success_rate'), '100%');
    // Latency as p50 / p95 (not a mean); the mock answers in 20 ms.
    assert.match(await row('demo-large:openai-like', 'latency'), /^\d+(\.\d+)? \/ \d+(\.\d+)? ms$/);
    // The broken deployment failed twice: its circuit opened, the backup served the fallback model.
    await until(() => row('demo-small:broken', 'circuit'), (v) => v.startsWith('open'), 'circuit of demo-small:broken open');
    assert.equal(await row('demo-small:backup', 'requests'), '3');
    assert.equal(await row('demo-small:broken', 'success_rate'), '0%');
    // Per adapter: the pool card lists its adapters with their request counts.
    const card = page.locator('[data-pool="demo-large:openai-like"]');
    const perAdapter = await card.locator('tbody [data-field="requests"]').allInnerTexts();
    assert.equal(perAdapter.reduce((a, v) => a + Number(v), 0), 3);
    assert.match(await card.locator('[data-field="health_rate"]').innerText(), /^100%$/);

    // More traffic: the numbers move again without reloading the page.
    const before = Number(await text(page, '[data-summary="adapters"] .v'));
    await Promise.all(Array.from({ length: 8 }, () => chat(url, 'gpt-demo')));
    await until(() => row('demo-large:openai-like', 'requests'), (v) => v === '7', 'openai-like served 7 requests');
    assert.ok(Number(await text(page, '[data-summary="adapters"] .v')) >= before);
    assert.equal(pageErrors.length, 0, pageErrors.join('\n'));
  });

  it('charts over time move with traffic, for the gateway, a model and a deployment', async () => {
    const chart = (id: string, attr = 'data-sum') => page.locator(`svg[data-chart="${id}"]`).getAttribute(attr).then(Number);
    await until(() => chart('requests'), (v) => v > 0, 'the requests chart shows the traffic so far');
    const before = await chart('requests');
    const tokensBefore = await chart('tokens');
    for (let i = 0; i < 10; i++) assert.equal(await chat(url, 'gpt-demo', i % 2 === 0), 200);
    await until(() => chart('requests'), (v) => v > before, 'the requests chart moves with new traffic');
    await until(() => chart('tokens'), (v) => v > tokensBefore, 'the tokens chart moves with new traffic');
    assert.ok((await chart('latency', 'data-max')) > 0, 'latency points are drawn');
    assert.ok((await page.locator('svg[data-chart="latency"] path[data-series="TTFT p50"]').count()) === 1, 'streams drew a time-to-first-token line');
    assert.ok((await page.locator('svg[data-chart="requests"] path[data-series="2xx"]').count()) === 1);
    // The same charts for one model, then for one deployment.
    const allSum = await chart('requests');
    await page.selectOption('#subject', 'model:fallback-demo');
    const fallbackSum = await chart('requests');
    assert.ok(fallbackSum > 0 && fallbackSum < allSum, `the model's chart (${fallbackSum}) is a part of the gateway's (${allSum})`);
    await page.selectOption('#subject', 'deployment:demo-small:broken');
    // The broken deployment answered nothing but failed calls: its error chart has server_error points.
    await until(() => page.locator('svg[data-chart="errors"] path[data-series="server_error"]').count(), (n) => n === 1, 'the broken deployment\'s errors are charted');
    await page.selectOption('#subject', 'all');
    assert.equal(pageErrors.length, 0, pageErrors.join('\n'));
  });

  it('a model whose every deployment fails shows its errors: header, model row, deployment row, error chart', async () => {
    // Before: no error for the model.
    assert.equal(await text(page, '[data-model-error="doomed"] .v'), '\u2013');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push(await chat(url, 'doomed'));
    assert.ok(statuses.every((s) => s >= 500), String(statuses));
    const tileValue = () => text(page, '[data-model-error="doomed"] .v');
    await until(tileValue, (v) => v === '100%', 'the header shows the model\'s error rate');
    assert.ok(await page.locator('[data-model-error="doomed"]').evaluate((e) => e.classList.contains('bad')), 'the tile is marked');
    const title = (await page.locator('[data-model-error="doomed"]').getAttribute('title')) ?? '';
    assert.match(title, /4 of 4 requests answered 5xx or 429/);
    // The gateway's error tile counts them too (the failover model succeeded, so it is not 100 %).
    assert.notEqual(await text(page, '[data-summary="error_rate"] .v'), '0%');
    const modelRow = (field: string) => text(page, `tr[data-model-row="doomed"] [data-field="${field}"]`);
    assert.equal(await modelRow('failed'), '4');
    assert.equal(await modelRow('error_rate'), '100%');
    assert.equal(await modelRow('requests'), '4');
    assert.equal(await text(page, 'tr[data-model-row="gpt-demo"] [data-field="error_rate"]'), '0%');
    // The deployment's row counts the requests that failed on it; its circuit opened.
    assert.equal(await text(page, 'tr[data-deployment="demo-doomed:down"] [data-field="failed"]'), '1', 'the first request failed on it twice and opened its circuit; the others reached no deployment');
    assert.match(await text(page, 'tr[data-deployment="demo-doomed:down"] [data-field="circuit"]'), /^open/);
    // The model's pool stays "healthy" (its adapter answers health checks): the label says what that means.
    const card = page.locator('[data-pool="demo-doomed:down"]');
    assert.equal(await card.locator('[data-field="health_rate"]').innerText(), '100%');
    assert.match((await card.locator('.meter').nth(1).getAttribute('title')) ?? '', /Not whether requests succeed/);
    assert.equal(await card.locator('.barlabel span').first().innerText(), 'Adapters by state');
    // The model's error chart: server_error for the failed calls, no_deployment once its circuit opened.
    await page.selectOption('#subject', 'model:doomed');
    await until(() => page.locator('svg[data-chart="errors"] path').count(), (n) => n >= 2, 'the model\'s errors by class are charted');
    assert.equal(await page.locator('svg[data-chart="errors"] path[data-series="server_error"]').count(), 1);
    assert.equal(await page.locator('svg[data-chart="errors"] path[data-series="no_deployment"]').count(), 1);
    await page.selectOption('#subject', 'all');
    // Tooltips explain the columns.
    assert.match((await page.locator('#deployments th', { hasText: 'Calls' }).getAttribute('title')) ?? '', /upstream calls/);
    assert.match((await page.locator('#deployments th', { hasText: 'Requests' }).getAttribute('title')) ?? '', /client requests/);
    assert.match((await page.locator('#deployments th', { hasText: '2xx' }).getAttribute('title')) ?? '', /2xx status/);
    assert.equal(pageErrors.length, 0, pageErrors.join('\n'));
  });

  it('cleanup and health check ask for the admin key and show their result', async () => {
    // Cleanup: nothing to remove yet, but the result is shown.
    let prompt = '';
    page.once('dialog', (d) => {
      prompt = d.message();
      void d.accept(ADMIN_KEY);
    });
    await page.click('#btn-cleanup');
    await page.locator('#action-result[data-result="cleanup:ok"]').waitFor();
    assert.match(prompt, /Admin key/);
    assert.match(await text(page, '#action-result'), /^Cleanup: \d+ removed/);

    // A wrong key: refused, and the page says so.
    page.once('dialog', (d) => void d.accept('not-the-admin-key'));
    await page.click('#btn-health');
    await page.locator('#action-result[data-result="health:error"]').waitFor();
    assert.match(await text(page, '#action-result'), /failed: HTTP 401/);

    // The admin key: the check runs, and the sick pool's adapter fails it.
    page.once('dialog', (d) => void d.accept(ADMIN_KEY));
    await page.click('#btn-health');
    await page.locator('#action-result[data-result="health:ok"]').waitFor();
    const result = await text(page, '#action-result');
    assert.match(result, /^Health check: \d+ checked, \d+ healthy, [1-9]\d* unhealthy/);
    const sick = page.locator('[data-pool="demo-canary:sick"]');
    await until(() => sick.locator('[data-field="unhealthy"]').innerText(), (v) => v === '1', 'the sick adapter shows unhealthy');
    assert.equal(await sick.locator('[data-field="health_rate"]').innerText(), '0%');
    assert.ok((await sick.locator('.badge.s-unhealthy').count()) >= 1);
    assert.ok(Number(await text(page, '[data-summary="unhealthy"] .v')) >= 1);

    // Slow requests in flight: the page shows adapters in use, then the screenshot.
    const slow = Array.from({ length: 2 }, () => chat(url, 'slow-demo'));
    const batch = page.locator('[data-pool="demo-batch:batch"]');
    await until(() => batch.locator('[data-field="in_use"]').innerText(), (v) => v === '2', 'two batch adapters in use');
    assert.notEqual(await batch.locator('[data-field="utilization_rate"]').innerText(), '0%');
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.deepEqual(await Promise.all(slow), [200, 200]);
    await until(() => batch.locator('[data-field="in_use"]').innerText(), (v) => v === '0', 'batch adapters back in the pool');
    assert.equal(pageErrors.length, 0, pageErrors.join('\n'));
  });
});
