import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * Headless Chromium for the dashboard tests (Debian's `chromium` package driven by playwright-core;
 * no browser download). `CHROMIUM_PATH` overrides /usr/bin/chromium.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Uncaught page errors and console errors (HTTP errors the tests provoke on purpose left out). */
  errors: string[];
  close(): Promise<void>;
}

export async function openBrowser(): Promise<Browser> {
  const profile = await mkdtemp(path.join(tmpdir(), 'adapterpool-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: LAUNCH_ARGS,
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    offline: false,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    // Chromium logs every non-2xx fetch too (no key yet, a gateway without a ledger): those are expected.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) errors.push(msg.text());
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Poll until `read()` satisfies `ok` (a bound so a broken page fails instead of hanging; no speed is asserted). */
export async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, limitMs = 15_000): Promise<T> {
  const end = Date.now() + limitMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (ok(last)) return last;
    if (Date.now() > end) throw new Error(`never happened: ${what} (last: ${JSON.stringify(last)})`);
    await sleep(100);
  }
}
