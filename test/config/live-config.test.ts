import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { ConfigWatcher, compactChanges, diffConfig, parseConfig } from '../../src/config/index.js';

const base = (models: string, extra = '') =>
  parseConfig(`providers:
  a: { type: mock }
  b: { type: mock }
models:
${models}
${extra}`, { env: {} });

describe('diffConfig: what a reload changes', () => {
  it('deployments match by model + provider + upstream model: a weight change is a change, not a remove and an add', () => {
    const before = base('  chat: { providers: [{ provider: a, model: x }, { provider: b, model: x }] }');
    const after = base('  chat: { providers: [{ provider: a, model: x, weight: 3 }, { provider: b, model: y }] }');
    assert.deepEqual(compactChanges(diffConfig(before, after)), {
      models: { changed: ['chat'] },
      deployments: { added: ['chat/b/y'], removed: ['chat/b/x'], changed: ['chat/a/x: weight'] },
      pools: { added: ['y:b'], removed: ['x:b'] },
    });
  });

  it('an explicit id follows a renamed deployment; its pool stays when the upstream model and provider stay', () => {
    const before = base('  old-name: { providers: [{ id: main, provider: a, model: x }] }');
    const after = base('  new-name: { providers: [{ id: main, provider: a, model: x, priority: 1 }] }');
    const c = diffConfig(before, after);
    assert.deepEqual(c.deployments, { added: [], removed: [], changed: ['main: model name, priority'] });
    assert.deepEqual(c.pools, { added: [], removed: [], resized: [], renewed: [] });
    assert.deepEqual(c.models, { added: ['new-name'], removed: ['old-name'], changed: [] });
  });

  it('pool limits and provider settings: resized and renewed keys; host and port need a restart', () => {
    const before = base('  chat: { providers: [{ provider: a, model: x }] }', 'server: { port: 8080 }');
    const after = parseConfig(`server: { port: 9090, host: 0.0.0.0 }
pool: { maxPoolSize: 3 }
providers:
  a: { type: mock, mock: { latency: 5ms } }
  b: { type: mock }
models:
  chat: { providers: [{ provider: a, model: x }] }
`, { env: {} });
    const c = diffConfig(before, after);
    assert.deepEqual(c.pools.resized, ['x:a']);
    assert.deepEqual(c.pools.renewed, ['x:a']);
    assert.deepEqual(c.providers.changed, ['a']);
    assert.deepEqual(c.restartRequired.sort(), ['server.host', 'server.port']);
    assert.deepEqual(c.settings.sort(), ['pool.maxPoolSize', 'server.host', 'server.port']);
  });
});

describe('ConfigWatcher', () => {
  it('a Kubernetes ConfigMap update (the ..data symlink swapped) is seen; a touch is not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adapterpool-watch-'));
    try {
      // ConfigMap layout: config.yaml -> ..data/config.yaml, ..data -> ..v1
      await mkdir(join(dir, '..v1'));
      await writeFile(join(dir, '..v1', 'config.yaml'), 'one');
      await symlink('..v1', join(dir, '..data'));
      await symlink(join('..data', 'config.yaml'), join(dir, 'config.yaml'));
      let changes = 0;
      const w = new ConfigWatcher({ file: join(dir, 'config.yaml'), debounceMs: 20, onChange: () => changes++ });
      await w.start();
      try {
        await mkdir(join(dir, '..v2'));
        await writeFile(join(dir, '..v2', 'config.yaml'), 'two');
        await symlink('..v2', join(dir, '..data_tmp'));
        await rename(join(dir, '..data_tmp'), join(dir, '..data'));
        for (let i = 0; i < 200 && changes === 0; i++) await sleep(10);
        assert.equal(changes, 1);
        const now = new Date();
        await utimes(join(dir, '..v2', 'config.yaml'), now, now);
        await writeFile(join(dir, '..v2', 'config.yaml'), 'two');
        await sleep(200);
        assert.equal(changes, 1, 'same content: no change');
      } finally {
        w.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Regression: any event in the directory re-armed the debounce, so a log or ledger written there
  // under traffic (or a sidecar's file) kept a saved config from ever being read.
  it('writes to other files of the directory do not hold a change back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adapterpool-watch-'));
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'one');
    let changes = 0;
    const w = new ConfigWatcher({ file, debounceMs: 100, onChange: () => changes++ });
    await w.start();
    let busy = true;
    const sidecar = (async () => {
      for (let i = 0; busy; i++) {
        await writeFile(join(dir, 'gateway.log'), `line ${i}\n`, { flag: 'a' });
        await sleep(20);
      }
    })();
    try {
      await sleep(50);
      await writeFile(file, 'two');
      for (let i = 0; i < 150 && changes === 0; i++) await sleep(10);
      assert.equal(changes, 1, 'read within 1.5 s while the log goes on being written');
    } finally {
      busy = false;
      await sidecar;
      w.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a file rewritten without pause is still read, at most 10 debounces after its first change', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'adapterpool-watch-'));
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'v0');
    let changes = 0;
    const w = new ConfigWatcher({ file, debounceMs: 50, onChange: () => changes++ });
    await w.start();
    try {
      const started = Date.now();
      // Writes every 10 ms for 2 s: never 50 ms of quiet.
      for (let i = 1; Date.now() - started < 2000; i++) {
        await writeFile(file, `v${i}`);
        await sleep(10);
      }
      assert.ok(changes >= 1, `read while the writes went on (${changes} reads)`);
    } finally {
      w.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
