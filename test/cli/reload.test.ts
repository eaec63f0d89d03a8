import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { MAIN } from './helpers.js';


interface Served {
  child: ChildProcessWithoutNullStreams;
  url: string;
  /** Parsed JSON log lines so far. */
  lines(): Array<Record<string, any>>;
  exit: Promise<number | null>;
}

/** Start `serve`, resolve once it listens. */
function serve(args: string[]): Promise<Served> {
  return new Promise((resolve, reject) => {
    // In the temp dir: the default usage ledger (./adapterpool-usage.db) stays out of the checkout.
    const child = spawn(process.execPath, [MAIN, 'serve', ...args], { env: { PATH: process.env.PATH }, cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    let resolved = false;
    const exit = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    const lines = () => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (m && !resolved) {
        resolved = true;
        resolve({ child, url: m[1]!, lines, exit });
      }
    });
    void exit.then((code) => !resolved && reject(new Error(`serve exited early (${code}): ${stderr}${stdout}`)));
  });
}

/** Wait (bounded, so a broken build fails instead of hanging) for a log line matching `re`. */
async function waitForLine(s: Served, re: RegExp, count = 1): Promise<Record<string, any>> {
  const until = Date.now() + 10_000;
  for (;;) {
    const found = s.lines().filter((l) => re.test(l.msg ?? ''));
    if (found.length >= count) return found[count - 1]!;
    if (Date.now() > until) throw new Error(`no log line ${re} (x${count}) in:\n${s.lines().map((l) => l.msg).join('\n')}`);
    await sleep(20);
  }
}

const yaml = (models: string[], extra = '') => `server: { host: 127.0.0.1, port: 0, reloadDebounce: 50ms }
providers:
  m: { type: mock, mock: { latency: 1ms, chunks: 2, chunkDelay: 1ms } }
models:
${models.map((m) => `  ${m}: { providers: [{ provider: m, model: mock-chat }] }`).join('\n')}
${extra}`;

const modelIds = async (url: string): Promise<string[]> => ((await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'adapterpool-reload-cli-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('serve: reload triggers', () => {
  test('SIGHUP reloads the config (it used to kill the process); an invalid file changes nothing and is logged with file:line', async () => {
    const file = join(dir, 'hup.yaml');
    await writeFile(file, yaml(['alpha']));
    const s = await serve(['--config', file]);
    try {
      await writeFile(file, yaml(['alpha', 'beta']));
      s.child.kill('SIGHUP');
      await waitForLine(s, /config reloaded \(version 2\)/);
      assert.ok(s.lines().some((l) => l.msg === 'SIGHUP: reloading the config'));
      assert.deepEqual(await modelIds(s.url), ['alpha', 'beta']);

      await writeFile(file, yaml(['alpha']).replace('type: mock', 'type: mock, nonsense: 1'));
      s.child.kill('SIGHUP');
      const failed = await waitForLine(s, /config reload failed/);
      assert.match(failed.msg, /hup\.yaml:\d+:\d+: providers\.m\.nonsense: unknown field "nonsense"/);
      assert.deepEqual(await modelIds(s.url), ['alpha', 'beta'], 'the running config stays');
      assert.equal(s.child.exitCode, null, 'still running');

      s.child.kill('SIGTERM');
      assert.equal(await s.exit, 0);
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  test('POST /v1/admin/reload (loopback, no admin key) reloads the file', async () => {
    const file = join(dir, 'endpoint.yaml');
    await writeFile(file, yaml(['alpha']));
    const s = await serve(['--config', file]);
    try {
      await writeFile(file, yaml(['gamma']));
      const res = await fetch(`${s.url}/v1/admin/reload`, { method: 'POST', headers: { 'content-type': 'application/json' } });
      const body = (await res.json()) as { success: boolean; data: { version: number; changed: { models: unknown } }; message: string };
      assert.equal(res.status, 200);
      assert.deepEqual(body, { success: true, data: { version: 2, changed: body.data.changed }, message: '配置重新加载成功' });
      assert.deepEqual(body.data.changed.models, { added: ['gamma'], removed: ['alpha'] });
      assert.deepEqual(await modelIds(s.url), ['gamma']);
      s.child.kill('SIGTERM');
      assert.equal(await s.exit, 0);
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  test('serve --port and --log-format were missing from GET /v1/admin/config; now they show there, and a reload neither undoes them nor calls them restart-required', async () => {
    const file = join(dir, 'overrides.yaml');
    // The file's own port is taken, so the gateway can only be listening because --port won.
    const taken = await new Promise<ReturnType<typeof createServer>>((r) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => r(srv));
    });
    const takenPort = (taken.address() as AddressInfo).port;
    const withPort = (models: string[]) => yaml(models, 'logging: { format: pretty }').replace('port: 0', `port: ${takenPort}`);
    await writeFile(file, withPort(['alpha']));
    const s = await serve(['--config', file, '--port', '0', '--log-format', 'json']);
    try {
      const config = async () => ((await (await fetch(`${s.url}/v1/admin/config`)).json()) as { data: { config: { server: { port: number }; logging: { format: string } } } }).data.config;
      let c = await config();
      assert.equal(c.server.port, 0);
      assert.equal(c.logging.format, 'json');
      await writeFile(file, withPort(['alpha', 'beta']));
      const res = await fetch(`${s.url}/v1/admin/reload`, { method: 'POST' });
      const body = (await res.json()) as { success: boolean; data: { changed: { models?: unknown; restartRequired?: string[] } } };
      assert.equal(body.success, true);
      assert.deepEqual(body.data.changed.models, { added: ['beta'] });
      assert.equal(body.data.changed.restartRequired, undefined, JSON.stringify(body.data.changed));
      c = await config();
      assert.equal(c.server.port, 0);
      assert.equal(c.logging.format, 'json');
      s.child.kill('SIGTERM');
      assert.equal(await s.exit, 0);
    } finally {
      s.child.kill('SIGKILL');
      taken.close();
    }
  });

  test('serve --watch showed server.watchConfig: false in GET /v1/admin/config: it shows true', async () => {
    const file = join(dir, 'watch-shown.yaml');
    await writeFile(file, yaml(['alpha']));
    const s = await serve(['--config', file, '--watch']);
    try {
      const body = (await (await fetch(`${s.url}/v1/admin/config`)).json()) as { data: { config: { server: { watchConfig: boolean } } } };
      assert.equal(body.data.config.server.watchConfig, true);
      s.child.kill('SIGTERM');
      assert.equal(await s.exit, 0);
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  test('--watch: a changed file reloads, a replaced file (editor, ConfigMap) reloads, a touch does not', async () => {
    const file = join(dir, 'watch.yaml');
    await writeFile(file, yaml(['alpha']));
    const s = await serve(['--config', file, '--watch']);
    try {
      await waitForLine(s, /watching .*watch\.yaml for changes/);
      await writeFile(file, yaml(['alpha', 'beta']));
      await waitForLine(s, /config reloaded \(version 2\)/);
      assert.deepEqual(await modelIds(s.url), ['alpha', 'beta']);

      // An editor's save: write elsewhere, rename over the file.
      const tmp = join(dir, '.watch.yaml.swp');
      await writeFile(tmp, yaml(['beta']));
      await rename(tmp, file);
      await waitForLine(s, /config reloaded \(version 3\)/);
      assert.deepEqual(await modelIds(s.url), ['beta']);

      const changes = s.lines().filter((l) => l.msg === 'config file changed: reloading').length;
      const now = new Date();
      await utimes(file, now, now);
      await writeFile(file, yaml(['beta'])); // the same bytes again
      await sleep(500); // ten debounce periods: long enough for a reload to have started
      assert.equal(s.lines().filter((l) => l.msg === 'config file changed: reloading').length, changes, 'a touch or the same content does nothing');
      assert.ok(!s.lines().some((l) => /version 4/.test(l.msg ?? '')));

      s.child.kill('SIGTERM');
      assert.equal(await s.exit, 0);
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  test('a reloaded server.reloadDebounce was ignored: the watcher kept the debounce it started with', async () => {
    const file = join(dir, 'debounce.yaml');
    await writeFile(file, yaml(['alpha']));
    const s = await serve(['--config', file, '--watch']);
    try {
      await waitForLine(s, /watching .*debounce\.yaml for changes/);
      // The change that sets a one-minute debounce is itself read after the old 50 ms one.
      await writeFile(file, yaml(['alpha', 'beta']).replace('reloadDebounce: 50ms', 'reloadDebounce: 1m'));
      await waitForLine(s, /config reloaded \(version 2\)/);
      await writeFile(file, yaml(['gamma']).replace('reloadDebounce: 50ms', 'reloadDebounce: 1m'));
      await sleep(1000); // twenty old debounce periods, a sixtieth of the new one
      assert.deepEqual(await modelIds(s.url), ['alpha', 'beta'], 'the new debounce holds the change back');
      assert.ok(!s.lines().some((l) => /version 3/.test(l.msg ?? '')));
      s.child.kill('SIGTERM');
      assert.equal(await s.exit, 0);
    } finally {
      s.child.kill('SIGKILL');
    }
  });

  test('server.watchConfig: true watches without --watch; turning it off by reload stops watching', async () => {
    const file = join(dir, 'watchconfig.yaml');
    const watching = (models: string[], on: boolean) => yaml(models).replace('reloadDebounce: 50ms', `reloadDebounce: 50ms, watchConfig: ${on}`);
    await writeFile(file, watching(['alpha'], true));
    const s = await serve(['--config', file]);
    try {
      await waitForLine(s, /watching .* for changes/);
      await writeFile(file, watching(['alpha', 'beta'], false));
      await waitForLine(s, /config reloaded \(version 2\)/);
      await waitForLine(s, /no longer watching the config file/);
      await writeFile(file, watching(['gamma'], false));
      await sleep(500);
      assert.deepEqual(await modelIds(s.url), ['alpha', 'beta'], 'no watch, no reload');
      s.child.kill('SIGTERM');
      assert.equal(await s.exit, 0);
    } finally {
      s.child.kill('SIGKILL');
    }
  });
});
