import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { LineDestination } from '../../src/server/log-destination.js';

const dir = mkdtempSync(join(tmpdir(), 'adapterpool-logdest-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('LineDestination (the gateway stdout for JSON lines)', () => {
  test('every line arrives once, in order, when lines come faster than writes complete', async () => {
    const file = join(dir, 'burst.log');
    const fd = openSync(file, 'w');
    const d = new LineDestination(fd);
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      d.write(`{"i":${i},"s":"${'é'.repeat(i % 7)}"}\n`);
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    await new Promise<void>((resolve) => d.flush(() => resolve()));
    closeSync(fd);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, n);
    lines.forEach((l, i) => assert.equal((JSON.parse(l) as { i: number }).i, i));
  });

  test('lines still queued when the process exits are written before it ends', () => {
    const file = join(dir, 'exit.log');
    const mod = pathToFileURL(join(import.meta.dirname, '../../src/server/log-destination.js')).href;
    const script = `
      import { openSync } from 'node:fs';
      const { LineDestination } = await import(${JSON.stringify(mod)});
      const d = new LineDestination(openSync(${JSON.stringify(file)}, 'w'));
      for (let i = 0; i < 5000; i++) d.write('{"i":' + i + '}\\n');
      process.exit(0);`;
    execFileSync(process.execPath, ['--input-type=module', '-e', script]);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 5000);
    assert.equal(lines.at(-1), '{"i":4999}');
  });

  test('with a flush interval, lines wait for it and flush() writes them at once', async () => {
    const file = join(dir, 'interval.log');
    const fd = openSync(file, 'w');
    const d = new LineDestination(fd, { flushIntervalMs: 60_000 });
    for (let i = 0; i < 3; i++) d.write(`{"i":${i}}\n`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(readFileSync(file, 'utf8'), '', 'nothing written before the interval is up');
    await new Promise<void>((resolve) => d.flush(() => resolve()));
    assert.equal(readFileSync(file, 'utf8'), '{"i":0}\n{"i":1}\n{"i":2}\n');
    closeSync(fd);
  });

  test('with a flush interval, lines go out when it is up, and at once past 64 KiB queued', async () => {
    const file = join(dir, 'interval-up.log');
    const fd = openSync(file, 'w');
    const d = new LineDestination(fd, { flushIntervalMs: 20 });
    d.write('{"a":1}\n');
    await waitFor(() => readFileSync(file, 'utf8') === '{"a":1}\n');
    const big = new LineDestination(fd, { flushIntervalMs: 60_000 });
    const line = `{"pad":"${'x'.repeat(1000)}"}\n`;
    for (let i = 0; i < 70; i++) big.write(line);
    await waitFor(() => readFileSync(file, 'utf8').length >= 8 + 65 * line.length);
    closeSync(fd);
  });

  test('a pending flush interval does not keep the process alive, and its lines are written at exit', () => {
    const file = join(dir, 'interval-exit.log');
    const mod = pathToFileURL(join(import.meta.dirname, '../../src/server/log-destination.js')).href;
    const script = `
      import { openSync } from 'node:fs';
      const { LineDestination } = await import(${JSON.stringify(mod)});
      const d = new LineDestination(openSync(${JSON.stringify(file)}, 'w'), { flushIntervalMs: 600000 });
      for (let i = 0; i < 10; i++) d.write('{"i":' + i + '}\\n');`;
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 10);
    assert.equal(lines.at(-1), '{"i":9}');
  });

  test('a destination that cannot be written drops lines instead of throwing', async () => {
    const file = join(dir, 'read-only.log');
    closeSync(openSync(file, 'w'));
    const fd = openSync(file, 'r'); // writes fail with EBADF
    const d = new LineDestination(fd);
    assert.equal(d.write('{"a":1}\n'), true);
    await new Promise<void>((resolve) => d.flush(() => resolve()));
    assert.equal(d.write('{"a":2}\n'), true);
    d.flushSync();
    closeSync(fd);
    assert.equal(readFileSync(file, 'utf8'), '');
  });
});

async function waitFor(ok: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}
