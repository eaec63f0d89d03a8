import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, eventually } from '../server/helpers.js';
import { LiveUpstream, reloadVia, startFileGateway, type FileGateway } from './helpers.js';

const ADMIN = 'admin-key-live-0001';
const KEY_A = 'client-key-aaaa-0001';
const KEY_B = 'client-key-bbbb-0002';
const SECRET_1 = 'provider-secret-one-111';
const SECRET_2 = 'provider-secret-two-222';

interface Opts {
  keys?: string[];
  secret?: string;
  /** Deployments of model `chat`. */
  chat?: string;
  extraModels?: string;
  pool?: string;
  server?: string;
  routing?: string;
}

function config(u1: LiveUpstream, u2: LiveUpstream, o: Opts = {}): string {
  return `server: { host: 127.0.0.1, ${o.server ?? 'port: 0'} }
auth: { adminKey: ${ADMIN}, apiKeys: [${(o.keys ?? [KEY_A, KEY_B]).join(', ')}] }
pool: ${o.pool ?? '{ minPoolSize: 1, maxPoolSize: 4 }'}
routing: ${o.routing ?? '{ maxAttempts: 2 }'}
providers:
  one: { type: openai-compatible, baseUrl: "${u1.url}", apiKey: "${o.secret ?? SECRET_1}" }
  two: { type: openai-compatible, baseUrl: "${u2.url}", apiKey: "${SECRET_2}" }
models:
  chat: { providers: [${o.chat ?? '{ provider: one, model: up-one }'}] }
${o.extraModels ?? ''}`;
}

const chat = (url: string, model: string, key = KEY_A, stream = false) =>
  call(url, 'POST', '/v1/chat/completions', { key, body: { model, stream, messages: [{ role: 'user', content: 'hi' }] } });

describe('POST /v1/admin/reload and GET /v1/admin/config', () => {
  let u1: LiveUpstream;
  let u2: LiveUpstream;
  let g: FileGateway;

  before(async () => {
    u1 = await LiveUpstream.start('one');
    u2 = await LiveUpstream.start('two');
    g = await startFileGateway(config(u1, u2));
  });
  after(async () => {
    await g.close();
    await u1.close();
    await u2.close();
  });

  it('the admin rule guards both endpoints', async () => {
    assert.equal((await reloadVia(g.url)).status, 401);
    assert.equal((await reloadVia(g.url, KEY_A)).status, 403, 'an API key is not the admin key (a valid key, so 403, not 401)');
    assert.equal((await call(g.url, 'GET', '/v1/admin/config', { key: KEY_A })).status, 403);
  });

  it('GET /v1/admin/config: the running config with version, load time and secrets masked', async () => {
    const r = await call(g.url, 'GET', '/v1/admin/config', { key: ADMIN });
    assert.equal(r.status, 200);
    assert.equal(r.json.success, true);
    assert.equal(r.json.message, '获取配置成功');
    assert.equal(r.json.data.version, 1);
    assert.ok(Date.parse(r.json.data.loaded_at) > 0);
    assert.equal(r.json.data.file, g.file);
    assert.deepEqual(Object.keys(r.json.data.config.models), ['chat']);
    for (const secret of [ADMIN, KEY_A, KEY_B, SECRET_1, SECRET_2]) assert.ok(!r.text.includes(secret), 'no secret in the answer');
    assert.equal(r.json.data.config.providers.one.apiKey, '********');
  });

  it('an unchanged file: success, same version, nothing changed', async () => {
    const r = await reloadVia(g.url, ADMIN);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { success: true, data: { version: 1, changed: {} }, message: '配置重新加载成功' });
  });

  it('an added model serves at once with its minimum warm; a removed API key is refused on the next request', async () => {
    assert.equal((await chat(g.url, 'chat', KEY_B)).status, 200);
    await g.write(config(u1, u2, { keys: [KEY_A], extraModels: '  solo: { providers: [{ provider: two, model: up-two, pool: { minPoolSize: 2 } }] }' }));
    const r = await reloadVia(g.url, ADMIN);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.message, '配置重新加载成功');
    assert.equal(r.json.data.version, 2);
    assert.deepEqual(r.json.data.changed.models, { added: ['solo'] });
    assert.deepEqual(r.json.data.changed.deployments, { added: ['solo/two/up-two'] });
    assert.deepEqual(r.json.data.changed.pools, { added: ['up-two:two'] });
    assert.deepEqual(r.json.data.changed.settings, ['auth.apiKeys']);
    // Warm before the answer: the pool exists with its minimum.
    const stats = g.gw.pool.stats().pools['up-two:two'];
    assert.ok(stats !== undefined && stats.total >= 2, `warm pool: ${JSON.stringify(stats)}`);
    assert.equal((await chat(g.url, 'solo')).status, 200);
    assert.equal((await chat(g.url, 'chat', KEY_B)).status, 401, 'the removed key is refused');
    const models = await call(g.url, 'GET', '/v1/models', { key: KEY_A });
    assert.deepEqual(models.json.data.map((m: { id: string }) => m.id), ['chat', 'solo']);
    const cfg = await call(g.url, 'GET', '/v1/admin/config', { key: ADMIN });
    assert.equal(cfg.json.data.version, 2);
    // The reload's line had no event field to query by (only its English message).
    const reloaded = g.lines().find((l) => l.event === 'config_reloaded' && l.version === 2);
    assert.ok(reloaded !== undefined, 'config_reloaded, with the version');
  });

  it('an invalid file changes nothing: 400 with file:line, logged once, counted', async () => {
    const before = (await call(g.url, 'GET', '/v1/admin/config', { key: ADMIN })).json.data;
    const failuresBefore = g.lines().filter((l) => /config reload failed/.test(l.msg ?? '')).length;
    const cases: Array<[string, RegExp]> = [
      ['models:\n  chat: { providers: [ { provider: one\n', /gateway\.yaml:\d+:\d+/],
      [config(u1, u2, { chat: '{ provider: nowhere, model: x }' }), /gateway\.yaml:\d+:\d+: models\.chat\.providers\[0\]\.provider: unknown provider "nowhere"/],
      [config(u1, u2, { secret: '${LIVE_UNSET_VAR}' }), /gateway\.yaml:\d+:\d+: providers\.one\.apiKey: environment variable LIVE_UNSET_VAR is not set/],
      [config(u1, u2).replace('type: openai-compatible', 'type: no-such-type'), /gateway\.yaml:\d+:\d+: providers\.one\.type: unknown provider type "no-such-type"/],
      // A provider the registry cannot build: it was reported as "config: providers.one: ...", no file or line.
      [config(u1, u2).replace(`baseUrl: "${u1.url}", `, ''), /gateway\.yaml:\d+:\d+: providers\.one: provider "one" \(type openai-compatible\) needs "baseUrl"/],
    ];
    for (const [text, reason] of cases) {
      await g.write(text);
      const r = await reloadVia(g.url, ADMIN);
      assert.equal(r.status, 400);
      assert.equal(r.json.success, false);
      assert.equal(r.json.data, null);
      assert.match(r.json.message, /^配置重新加载失败: /);
      assert.match(r.json.message, reason);
    }
    const now = (await call(g.url, 'GET', '/v1/admin/config', { key: ADMIN })).json.data;
    assert.deepEqual(now, before, 'the running config stays');
    assert.equal((await chat(g.url, 'solo')).status, 200, 'and serves on');
    const failures = g.lines().filter((l) => /config reload failed/.test(l.msg ?? ''));
    assert.equal(failures.length - failuresBefore, cases.length, 'each failure logged once');
    assert.match(failures.at(-1)!.msg, /gateway\.yaml:\d+/);
    const metrics = await call(g.url, 'GET', '/metrics', { key: ADMIN });
    assert.match(metrics.text, new RegExp(`adapterpool_config_reloads_total\\{result="failure"\\} ${cases.length}\\n`));
    assert.match(metrics.text, /adapterpool_config_reloads_total\{result="success"\} 2\n/);
  });

  it('server.host / server.port are reported as needing a restart and left as they were; the rest applies', async () => {
    await g.write(config(u1, u2, { keys: [KEY_A], server: 'port: 1, keepAliveTimeout: 10s', routing: '{ maxAttempts: 3 }', extraModels: '  solo: { providers: [{ provider: two, model: up-two, pool: { minPoolSize: 2 } }] }' }));
    const r = await reloadVia(g.url, ADMIN);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.data.changed.restartRequired, ['server.port']);
    assert.deepEqual(r.json.data.changed.settings.sort(), ['routing.maxAttempts', 'server.keepAliveTimeout', 'server.port']);
    const cfg = (await call(g.url, 'GET', '/v1/admin/config', { key: ADMIN })).json.data;
    assert.equal(cfg.config.server.port, 0, 'the port the process started with');
    assert.equal(cfg.config.routing.maxAttempts, 3);
    assert.equal(g.gw.app.server.keepAliveTimeout, 10_000);
    assert.ok(g.lines().some((l) => l.level === 40 && /server\.port need a restart/.test(l.msg)));
    assert.equal((await chat(g.url, 'chat')).status, 200, 'still listening where it was');
  });

  it('an unchanged deployment keeps its pool, its adapters, its circuit and its latency figures', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await chat(g.url, 'chat')).status, 200);
    const adapters = () => g.gw.pool.details('up-one', 'one').map((d) => d.id).sort();
    const health = () => g.gw.router.deploymentHealth().find((h) => h.key === 'up-one:one')!;
    const before = { adapters: adapters(), ewma: health().ewmaLatencyMs, circuit: health().circuit };
    assert.ok(before.adapters.length > 0 && before.ewma !== undefined);
    // Another model and another key change; deployment one/up-one does not.
    await g.write(config(u1, u2, { keys: [KEY_A, KEY_B], extraModels: '  solo: { providers: [{ provider: two, model: up-two, pool: { minPoolSize: 2 } }] }\n  other: { providers: [{ provider: two, model: up-other }] }' }));
    const r = await reloadVia(g.url, ADMIN);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.data.changed.deployments, { added: ['other/two/up-other'] });
    assert.deepEqual(adapters(), before.adapters, 'the same adapters');
    assert.equal(health().ewmaLatencyMs, before.ewma, 'the same latency figures');
    assert.equal(health().circuit, before.circuit);
    assert.equal((await chat(g.url, 'chat', KEY_B)).status, 200, 'a key added back is accepted at once');
  });

  it('a provider key swap: the next requests carry the new key; the old adapters retire', async () => {
    await g.write(config(u1, u2, { keys: [KEY_A], secret: 'provider-secret-new-333', extraModels: '  solo: { providers: [{ provider: two, model: up-two, pool: { minPoolSize: 2 } }] }' }));
    const r = await reloadVia(g.url, ADMIN);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.data.changed.providers, { changed: ['one'] });
    assert.deepEqual(r.json.data.changed.pools, { removed: ['up-other:two'], renewed: ['up-one:one'] });
    const seen = u1.auth.length;
    for (let i = 0; i < 3; i++) assert.equal((await chat(g.url, 'chat')).status, 200);
    assert.deepEqual(u1.auth.slice(seen), Array(3).fill('Bearer provider-secret-new-333'));
    assert.ok(!g.logs.join('').includes('provider-secret-new-333'), 'the key is not logged');
  });
});

describe('a stream that lasts across a reload that removes its deployment', () => {
  it('completes, and only then are the removed deployment\'s connections closed', async () => {
    const u1 = await LiveUpstream.start('one');
    const u2 = await LiveUpstream.start('two');
    const two = '{ provider: two, model: up-two }';
    const g = await startFileGateway(config(u1, u2, { chat: `{ provider: one, model: up-one }, ${two}`, extraModels: `  solo: { providers: [${two}] }` }));
    try {
      u2.hold = true;
      const streamDone = chat(g.url, 'solo', KEY_A, true);
      await eventually(() => u2.heldStreams === 1, 'the stream reached upstream two');
      assert.ok(u2.openSockets > 0);

      await g.write(config(u1, u2));
      const r = await reloadVia(g.url, ADMIN);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.deepEqual(r.json.data.changed.models, { removed: ['solo'], changed: ['chat'] });
      assert.deepEqual(r.json.data.changed.pools, { removed: ['up-two:two'] });
      // No new request reaches the removed deployment.
      for (let i = 0; i < 4; i++) assert.equal((await chat(g.url, 'chat')).headers.get('x-adapterpool-deployment'), 'up-one:one');
      assert.equal((await chat(g.url, 'solo')).status, 404);
      assert.ok(u2.openSockets > 0, 'the in-flight stream keeps its connection');
      assert.ok(!g.lines().some((l) => /up-two:two removed/.test(l.msg ?? '')));

      // The drain waits for the stream: its line's `ms` used to count only the close after it (1-2 ms).
      await new Promise((r) => setTimeout(r, 300));
      u2.releaseHeld();
      const res = await streamDone;
      assert.equal(res.status, 200);
      assert.ok(res.text.trimEnd().endsWith('data: [DONE]'), res.text);
      assert.match(res.text, /two-2 /);
      await g.gw.reloader.drained();
      await eventually(() => u2.openSockets === 0, 'upstream two sees its connections closed');
      assert.ok(g.lines().some((l) => /deployment pool up-two:two removed/.test(l.msg ?? '')), 'the drain is logged');
      const removed = g.lines().find((l) => l.event === 'deployment_pool_removed')!;
      assert.ok(removed.ms >= 290, `ms counts from the reload, the wait for the stream included (${removed.ms})`);
      assert.ok(removed.closeMs <= removed.ms, 'closeMs: the close after the wait');
      assert.equal(g.gw.pool.stats().pools['up-two:two'], undefined);
      assert.equal(g.gw.pool.status().in_use_adapters, 0);
    } finally {
      await g.close();
      await u1.close();
      await u2.close();
    }
  });

  it('a removed deployment kept reporting adapterpool_circuit_state and its router state after its drain', async () => {
    const u1 = await LiveUpstream.start('one');
    const u2 = await LiveUpstream.start('two');
    const two = '{ provider: two, model: up-two }';
    const g = await startFileGateway(config(u1, u2, { chat: `{ provider: one, model: up-one }, ${two}` }));
    const circuitSeries = async () => {
      const r = await call(g.url, 'GET', '/metrics', { key: ADMIN });
      return r.text.split('\n').filter((l) => l.startsWith('adapterpool_circuit_state{'));
    };
    try {
      // Both deployments serve, so the router holds state for both.
      for (let i = 0; i < 4; i++) assert.equal((await chat(g.url, 'chat')).status, 200);
      assert.deepEqual(g.gw.router.deploymentHealth().map((h) => h.key).sort(), ['up-one:one', 'up-two:two']);
      assert.equal((await circuitSeries()).filter((l) => l.includes('provider="two"')).length, 1);

      await g.write(config(u1, u2));
      assert.equal((await reloadVia(g.url, ADMIN)).status, 200);
      await g.gw.reloader.drained();

      assert.deepEqual(g.gw.router.deploymentHealth().map((h) => h.key), ['up-one:one'], 'the router let the removed deployment go');
      const series = await circuitSeries();
      assert.equal(series.filter((l) => l.includes('provider="two"')).length, 0, series.join('\n'));
      assert.equal(series.filter((l) => l.includes('provider="one"')).length, 1, 'the remaining deployment keeps its series');
    } finally {
      await g.close();
      await u1.close();
      await u2.close();
    }
  });
});

describe('settings read once at start', () => {
  it('reload reported server.maxJsonDepth and server.maxConnections applied but kept the start values', async () => {
    const u1 = await LiveUpstream.start('one');
    const u2 = await LiveUpstream.start('two');
    const g = await startFileGateway(config(u1, u2));
    try {
      const deep = { model: 'chat', messages: [{ role: 'user', content: 'hi' }], metadata: { a: { b: { c: { d: 1 } } } } };
      assert.equal((await call(g.url, 'POST', '/v1/chat/completions', { key: KEY_A, body: deep })).status, 200);
      await g.write(config(u1, u2, { server: 'port: 0, maxJsonDepth: 4, maxConnections: 3' }));
      const r = await reloadVia(g.url, ADMIN);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.deepEqual(r.json.data.changed.settings.sort(), ['server.maxConnections', 'server.maxJsonDepth']);
      assert.equal(r.json.data.changed.restartRequired, undefined);
      const refused = await call(g.url, 'POST', '/v1/chat/completions', { key: KEY_A, body: deep });
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.json.error.message, /more than 4 levels deep/);
      // Other routes' bodies too (the admin and pool routes use the app's parser).
      const emb = await call(g.url, 'POST', '/v1/embeddings', { key: KEY_A, body: { model: 'chat', input: [[[[[['x']]]]]] } });
      assert.equal(emb.status, 400);
      assert.match(emb.json.error.message, /more than 4 levels deep/);
      assert.equal(g.gw.app.server.maxConnections, 3);
    } finally {
      await g.close();
      await u1.close();
      await u2.close();
    }
  });

  it('reload reported logging.format, server.bodyTimeout and metrics.history applied though they need a restart', async () => {
    const u1 = await LiveUpstream.start('one');
    const u2 = await LiveUpstream.start('two');
    const g = await startFileGateway(config(u1, u2));
    try {
      await g.write(config(u1, u2, { server: 'port: 0, bodyTimeout: 5s' }) + 'logging: { format: pretty }\nmetrics: { history: 30m, historyStep: 10s }\n');
      const r = await reloadVia(g.url, ADMIN);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.deepEqual(r.json.data.changed.restartRequired.sort(), ['logging.format', 'metrics.history', 'metrics.historyStep', 'server.bodyTimeout']);
      const cfg = (await call(g.url, 'GET', '/v1/admin/config', { key: ADMIN })).json.data.config;
      assert.equal(cfg.logging.format, 'auto', 'the running value is kept');
      assert.equal(cfg.server.bodyTimeout, 30_000);
      assert.equal(cfg.metrics.history, 15 * 60_000);
    } finally {
      await g.close();
      await u1.close();
      await u2.close();
    }
  });
});

describe('routing and provider settings under a reload', () => {
  it('strategy, weights and priorities change for the next request', async () => {
    const u1 = await LiveUpstream.start('one');
    const u2 = await LiveUpstream.start('two');
    const model = (strategy: string, p1: number, p2: number, w1 = 1, w2 = 1) =>
      config(u1, u2, { chat: `{ provider: one, model: up-one, priority: ${p1}, weight: ${w1} }, { provider: two, model: up-two, priority: ${p2}, weight: ${w2} }` }).replace(
        '  chat: { providers:',
        `  chat: { strategy: ${strategy}, providers:`,
      );
    const g = await startFileGateway(model('failover', 0, 1));
    const served = async (n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const r = await chat(g.url, 'chat');
        assert.equal(r.status, 200);
        out.push(r.headers.get('x-adapterpool-deployment')!);
      }
      return out;
    };
    try {
      assert.deepEqual(new Set(await served(4)), new Set(['up-one:one']), 'failover: priority 0 first');
      await g.write(model('failover', 1, 0));
      assert.equal((await reloadVia(g.url, ADMIN)).status, 200);
      assert.deepEqual(new Set(await served(4)), new Set(['up-two:two']), 'priorities swapped: the other one at once');
      await g.write(model('weighted', 0, 0, 0, 1));
      const r = await reloadVia(g.url, ADMIN);
      assert.deepEqual(r.json.data.changed.deployments.changed, ['chat/one/up-one: weight, priority']);
      assert.deepEqual(new Set(await served(6)), new Set(['up-two:two']), 'weighted, weight 0 on one: only two');
      await g.write(model('round_robin', 0, 0));
      assert.equal((await reloadVia(g.url, ADMIN)).status, 200);
      assert.deepEqual(new Set(await served(4)), new Set(['up-one:one', 'up-two:two']), 'round robin: both');
    } finally {
      await g.close();
      await u1.close();
      await u2.close();
    }
  });

  it('a provider key swap under a stream: the stream finishes on its old adapter, which then retires; new requests carry the new key', async () => {
    const u1 = await LiveUpstream.start('one');
    const u2 = await LiveUpstream.start('two');
    const g = await startFileGateway(config(u1, u2, { pool: '{ minPoolSize: 1, maxPoolSize: 4 }' }));
    try {
      u1.hold = true;
      const stream = chat(g.url, 'chat', KEY_A, true);
      await eventually(() => u1.heldStreams === 1, 'the stream reached upstream one');
      const old = g.gw.pool.details('up-one', 'one').filter((d) => d.state === 'in_use').map((d) => d.id);
      assert.equal(old.length, 1);
      u1.hold = false;

      await g.write(config(u1, u2, { secret: 'provider-secret-new-444' }));
      const r = await reloadVia(g.url, ADMIN);
      assert.deepEqual(r.json.data.changed.pools, { renewed: ['up-one:one'] });
      const seen = u1.auth.length;
      for (let i = 0; i < 3; i++) assert.equal((await chat(g.url, 'chat')).status, 200);
      assert.deepEqual(u1.auth.slice(seen), Array(3).fill('Bearer provider-secret-new-444'), 'new requests: the new key');
      assert.ok(g.gw.pool.details('up-one', 'one').some((d) => d.id === old[0]), 'the lent adapter is kept while its stream runs');

      u1.releaseHeld();
      const res = await stream;
      assert.ok(res.text.trimEnd().endsWith('data: [DONE]'), res.text);
      assert.equal(u1.auth[0], `Bearer ${SECRET_1}`, 'the stream ran on the old key');
      await eventually(() => !g.gw.pool.details('up-one', 'one').some((d) => d.id === old[0]), 'the old adapter retired on release');
      assert.equal(g.gw.pool.status().in_use_adapters, 0);
    } finally {
      await g.close();
      await u1.close();
      await u2.close();
    }
  });
});
