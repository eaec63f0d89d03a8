import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MACHINE_REDIS, uniquePrefix } from '../cluster/helpers.js';
import { call, startGateway, type RunningGateway } from '../server/helpers.js';
import { openBrowser, until, type Browser } from './helpers.js';

/**
 * The replicas panel: two gateways in this process joined through the machine's Redis under a
 * prefix of their own, and one gateway without a cluster.
 */

const config = (cluster: string): string => `
logging: { level: warn }
${cluster}
pool: { minPoolSize: 1, maxPoolSize: 2 }
providers: { m: { type: mock } }
models: { chat: { providers: [{ provider: m, model: mock-chat }] } }
usage: { enabled: false }
`;

describe('dashboard replicas panel', () => {
  const gws: RunningGateway[] = [];
  let single: RunningGateway;
  let browser: Browser;

  before(async () => {
    const prefix = uniquePrefix();
    for (const id of ['dash-a', 'dash-b']) {
      gws.push(await startGateway(config(`cluster: { redis: "${MACHINE_REDIS}", prefix: "${prefix}", replicaId: "${id}", snapshotInterval: 300ms }`)));
    }
    single = await startGateway(config(''));
    browser = await openBrowser();
  });

  after(async () => {
    await browser?.close();
    await Promise.all([...gws, single].filter((g) => g !== undefined).map((g) => g.close()));
  });

  it('lists both replicas, marks the one serving the page, and says the mode is shared', async () => {
    const page = browser.page;
    await page.goto(`${gws[0]!.url}/dashboard`);
    const ids = () => page.locator('#replicas tr[data-replica]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-replica')));
    await until(ids, (v) => v.length === 2, 'both replicas listed');
    assert.deepEqual(await ids(), ['dash-a', 'dash-b']);
    assert.equal(await page.locator('#replicas').getAttribute('data-mode'), 'shared');
    assert.match(await page.locator('#replicas-mode').innerText(), /shared · Redis up/);

    const row = (id: string) => page.locator(`#replicas tr[data-replica="${id}"]`);
    assert.ok(await row('dash-a').evaluate((e) => e.classList.contains('self')), 'this replica is marked');
    assert.equal(await row('dash-a').locator('[data-field="self"]').innerText(), 'this replica');
    assert.equal(await row('dash-b').locator('[data-field="self"]').count(), 0);

    // What each snapshot carries, as the fleet endpoint reports it.
    const fleet = (await call(gws[0]!.url, 'GET', '/v1/pool/status?scope=cluster')).json.data;
    assert.equal(fleet.mode, 'shared');
    for (const r of fleet.replicas as Array<Record<string, unknown>>) {
      const field = (f: string) => row(r.id as string).locator(`[data-field="${f}"]`).innerText();
      assert.equal(await field('config_version'), String(r.config_version));
      assert.equal(await field('pools'), String(r.pools));
      assert.equal(await field('open_circuits'), String((r.open_circuits as string[]).length));
      assert.match(await field('last_seen'), /s ago$/);
      assert.match(await field('in_flight'), /^\d+$/);
      assert.match(await field('in_use_adapters'), /^\d+$/);
    }
    assert.match((await page.locator('#replicas th', { hasText: 'Last seen' }).getAttribute('title')) ?? '', /snapshot/);
    assert.equal(browser.errors.length, 0, browser.errors.join('\n'));
  });

  it('the other replica sees the same fleet and marks itself', async () => {
    const page = browser.page;
    await page.goto(`${gws[1]!.url}/dashboard`);
    await until(() => page.locator('#replicas tr.self').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-replica')).join()), (v) => v === 'dash-b', 'dash-b marked as this replica');
    assert.equal(await page.locator('#replicas tr[data-replica]').count(), 2);
    assert.equal(browser.errors.length, 0, browser.errors.join('\n'));
  });

  it('without a cluster the panel says single process', async () => {
    const page = browser.page;
    await page.goto(`${single.url}/dashboard`);
    await page.locator('#replicas[data-mode="single"]').waitFor();
    assert.match(await page.locator('#replicas-note').innerText(), /^Single process/);
    assert.ok(await page.locator('#replicas-card').evaluate((e) => e.classList.contains('hidden')), 'no replica table');
    assert.ok(await page.locator('#error').evaluate((e) => e.classList.contains('hidden')), 'no refresh error');
    assert.equal(browser.errors.length, 0, browser.errors.join('\n'));
  });
});
