import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ConfigError,
  DEFAULT_CONFIG_YAML,
  defaultConfig,
  interpolateEnv,
  maskConfig,
  MASK,
  modelRoutes,
  parseConfig,
  parseDuration,
  parseSize,
  poolOptions,
  routingConfig,
} from '../../src/config/index.js';
import { DEFAULT_ROUTING_CONFIG } from '../../src/routing/types.js';

const MINIMAL = `providers:
  m: { type: mock }
models:
  chat:
    providers:
      - { provider: m }
`;

function configError(text: string, env: NodeJS.ProcessEnv = {}, providerTypes?: string[]): ConfigError {
  try {
    parseConfig(text, { source: 'test.yaml', env, ...(providerTypes ? { providerTypes } : {}) });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the config to be rejected');
}

describe('config: defaults', () => {
  test('a minimal config gets every default', () => {
    const c = parseConfig(MINIMAL, { env: {} });
    assert.deepEqual(c.server, {
      host: '127.0.0.1',
      port: 8080,
      bodyLimit: 4 * 1024 * 1024,
      shutdownTimeout: 30_000,
      keepAliveTimeout: 72_000,
      maxJsonDepth: 128,
      bodyTimeout: 30_000,
      writeTimeout: 30_000,
      streamKeepAlive: 15_000,
      maxConnections: 10_000,
      watchConfig: false,
      reloadDebounce: 300,
    });
    assert.deepEqual(c.auth.apiKeys, []);
    assert.equal(c.auth.adminKey, undefined);
    assert.equal(c.pool.maxPoolSize, 10);
    assert.equal(c.pool.minPoolSize, 2);
    assert.equal(c.pool.acquireTimeout, 30_000);
    assert.equal(c.pool.cleanupInterval, 60_000);
    assert.equal(c.pool.healthCheckInterval, 300_000);
    assert.equal(c.pool.maxUses, 10_000);
    assert.equal(c.pool.idleTimeout, 600_000);
    assert.equal(c.pool.maxLifetime, 1_800_000);
    assert.deepEqual(routingConfig(c), DEFAULT_ROUTING_CONFIG);
    assert.equal(c.logging.level, 'info');
    assert.equal(c.logging.format, 'auto');
    assert.equal(c.models.chat!.strategy, 'round_robin');
    const p = c.providers.m!;
    assert.equal(p.connectTimeout, 10_000);
    assert.equal(p.firstByteTimeout, 300_000);
    assert.equal(p.idleTimeout, 60_000);
  });

  test('the built-in default uses only mock providers and has two demo models', () => {
    const c = defaultConfig();
    assert.deepEqual(Object.keys(c.models), ['demo-chat', 'demo-failover']);
    for (const p of Object.values(c.providers)) assert.equal(p.type, 'mock');
    assert.equal(c.models['demo-chat']!.strategy, 'round_robin');
    assert.equal(c.models['demo-chat']!.providers.length, 2);
    assert.equal(c.server.host, '127.0.0.1');
    assert.match(DEFAULT_CONFIG_YAML, /Built-in default/);
  });

  test('the issue example config parses, with a per-deployment pool override', () => {
    const text = `server: { host: 127.0.0.1, port: 8080, bodyLimit: 4mb }
auth: { apiKeys: ["\${GATEWAY_API_KEY}"], adminKey: "\${GATEWAY_ADMIN_KEY}" }
pool: { maxPoolSize: 10, minPoolSize: 2, acquireTimeout: 30s, cleanupInterval: 60s, healthCheckInterval: 5m, maxUses: 1000, idleTimeout: 10m, maxLifetime: 30m }
providers:
  volcengine: { type: volcengine, apiKey: "\${ARK_API_KEY}" }
  local:      { type: openai-compatible, baseUrl: "http://127.0.0.1:11434/v1" }
  mock:       { type: mock }
models:
  doubao-seed-1-6-flash-250715:
    strategy: round_robin
    providers:
      - { provider: volcengine, model: doubao-seed-1-6-flash-250715, weight: 1, priority: 0, pool: { maxPoolSize: 20 } }
`;
    const c = parseConfig(text, { env: { GATEWAY_API_KEY: 'gk', GATEWAY_ADMIN_KEY: 'ak', ARK_API_KEY: 'ark' } });
    assert.deepEqual(c.auth, { apiKeys: ['gk'], adminKey: 'ak' });
    const routes = modelRoutes(c);
    const route = routes.get('doubao-seed-1-6-flash-250715')!;
    assert.deepEqual(route.deployments, [
      { key: 'doubao-seed-1-6-flash-250715:volcengine', provider: 'volcengine', model: 'doubao-seed-1-6-flash-250715', weight: 1, priority: 0 },
    ]);
    const po = poolOptions(c);
    assert.deepEqual(po.keys, [{ model: 'doubao-seed-1-6-flash-250715', provider: 'volcengine' }]);
    assert.deepEqual(po.keyOptions, { 'doubao-seed-1-6-flash-250715:volcengine': { maxPoolSize: 20 } });
    assert.equal(po.acquireTimeoutMs, 30_000);
  });

  test('a deployment without model uses the gateway model name', () => {
    const routes = modelRoutes(parseConfig(MINIMAL, { env: {} }));
    assert.equal(routes.get('chat')!.deployments[0]!.key, 'chat:m');
  });
});

describe('config: create retries', () => {
  test('the backoff between failed creates was a library option only (a wrong key meant a request to the provider every 5 s, for good): pool.createRetryInitial / createRetryMax', () => {
    const defaults = poolOptions(parseConfig(MINIMAL, { env: {} }));
    assert.equal(defaults.createRetryInitialMs, 100);
    assert.equal(defaults.createRetryMaxMs, 5_000);
    const set = poolOptions(parseConfig(`pool:\n  createRetryInitial: 1s\n  createRetryMax: 2m\n${MINIMAL}`, { env: {} }));
    assert.equal(set.createRetryInitialMs, 1_000);
    assert.equal(set.createRetryMaxMs, 120_000);
    const err = configError(`pool:\n  createRetryInitial: 10s\n  createRetryMax: 1s\n${MINIMAL}`);
    assert.deepEqual(err.issues.map((i) => i.path), ['pool.createRetryMax']);
    assert.match(err.message, /createRetryMax \(1s\) is shorter than createRetryInitial \(10s\)/);
  });
});

describe('config: cluster.redis', () => {
  test('check-config passed Redis URLs that ioredis cannot parse, and serve then exited with a bare "Invalid URL": the config names the field, and never the password', () => {
    for (const url of ['redis://127.0.0.1:notaport', 'redis://127.0.0.1:99999', 'redis://[::1:19379', 'redis://:Sekret99@127.0.0.1:notaport', 'redis://h:6379/x', 'http://h:6379']) {
      const err = configError(`cluster: { redis: "${url}" }\n${MINIMAL}`);
      assert.deepEqual(err.issues.map((i) => i.path), ['cluster.redis'], url);
      assert.ok(!err.message.includes('Sekret99'), err.message);
    }
    for (const url of ['redis://127.0.0.1:6379', 'redis://:pw@127.0.0.1:6379/2', 'rediss://cache.example:6380', 'redis://[::1]:6379', '']) {
      parseConfig(`cluster: { redis: "${url}" }\n${MINIMAL}`, { env: {} });
    }
  });
});

describe('config: durations and sizes', () => {
  test('parseDuration', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('60s'), 60_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration(250), 250);
    assert.equal(parseDuration('250'), 250);
    assert.equal(parseDuration('5 parsecs'), undefined);
    assert.equal(parseDuration(-1), undefined);
  });

  test('parseSize', () => {
    assert.equal(parseSize('4mb'), 4 * 1024 * 1024);
    assert.equal(parseSize('512kb'), 512 * 1024);
    assert.equal(parseSize('1GB'), 1024 ** 3);
    assert.equal(parseSize(100), 100);
    assert.equal(parseSize('lots'), undefined);
  });

  test('durations in the file become ms; a bad one names the field and line', () => {
    const c = parseConfig(`pool: { acquireTimeout: 1500ms, idleTimeout: 2h, cleanupInterval: 2500 }\n${MINIMAL}`, { env: {} });
    assert.equal(c.pool.acquireTimeout, 1500);
    assert.equal(c.pool.idleTimeout, 7_200_000);
    assert.equal(c.pool.cleanupInterval, 2500);

    const err = configError(`${MINIMAL}routing:\n  requestTimeout: soon\n`);
    assert.equal(err.issues.length, 1);
    assert.equal(err.issues[0]!.path, 'routing.requestTimeout');
    assert.equal(err.issues[0]!.line, 8);
    assert.match(err.message, /test\.yaml:8:\d+: routing\.requestTimeout: invalid duration "soon"/);
  });
});

describe('config: errors name the field and the line', () => {
  test('unknown keys are rejected with their own line', () => {
    const err = configError(`server:\n  host: 127.0.0.1\n  prot: 8080\n${MINIMAL}`);
    assert.deepEqual(err.issues.map((i) => [i.path, i.line]), [['server.prot', 3]]);
    assert.match(err.issues[0]!.message, /unknown field "prot"/);
  });

  test('an unknown provider reference points at the deployment line', () => {
    const err = configError(`providers:\n  m: { type: mock }\nmodels:\n  chat:\n    providers:\n      - { provider: m }\n      - { provider: nope }\n`);
    assert.equal(err.issues[0]!.path, 'models.chat.providers[1].provider');
    assert.equal(err.issues[0]!.line, 7);
    assert.match(err.issues[0]!.message, /unknown provider "nope"/);
  });

  test('wrong types and ranges', () => {
    const err = configError(`server: { port: 70000 }\npool: { maxPoolSize: two }\n${MINIMAL}`);
    assert.deepEqual(err.issues.map((i) => [i.path, i.line]), [['server.port', 1], ['pool.maxPoolSize', 2]]);
  });

  test('minPoolSize above maxPoolSize', () => {
    const err = configError(`pool: { minPoolSize: 5, maxPoolSize: 3 }\n${MINIMAL}`);
    assert.equal(err.issues[0]!.path, 'pool.minPoolSize');
    assert.equal(err.issues[0]!.line, 1);
  });

  test('a missing required section is reported', () => {
    const err = configError('providers:\n  m: { type: mock }\n');
    assert.equal(err.issues[0]!.path, 'models');
    assert.match(err.issues[0]!.message, /required/);
  });

  test('a model with no providers', () => {
    const err = configError('providers:\n  m: { type: mock }\nmodels:\n  chat:\n    providers: []\n');
    assert.equal(err.issues[0]!.path, 'models.chat.providers');
    assert.equal(err.issues[0]!.line, 5);
  });

  test('YAML syntax errors carry the line', () => {
    const err = configError('providers:\n  m: { type: mock\nmodels: {}\n');
    assert.ok(err.issues[0]!.line !== undefined && err.issues[0]!.line >= 2);
  });

  test('duplicate keys are an error', () => {
    const err = configError(`server: { port: 1 }\nserver: { port: 2 }\n${MINIMAL}`);
    assert.equal(err.issues[0]!.line, 2);
  });

  test('provider types are checked against the registry list when given', () => {
    const err = configError(MINIMAL.replace('type: mock', 'type: mokc'), {}, ['mock', 'openai']);
    assert.equal(err.issues[0]!.path, 'providers.m.type');
    assert.equal(err.issues[0]!.line, 2);
    assert.match(err.issues[0]!.message, /unknown provider type "mokc"/);
  });
});

describe('config: ${ENV} interpolation', () => {
  test('interpolateEnv rules', () => {
    assert.deepEqual(interpolateEnv('Bearer ${A}', { A: 'x' }), { value: 'Bearer x', missing: [] });
    assert.deepEqual(interpolateEnv('${A}', {}), { value: '', missing: ['A'] });
    assert.deepEqual(interpolateEnv('${A:-fallback}', {}), { value: 'fallback', missing: [] });
    assert.deepEqual(interpolateEnv('${A:-fallback}', { A: '' }), { value: 'fallback', missing: [] });
    assert.deepEqual(interpolateEnv('${A:-}', {}), { value: '', missing: [] });
    assert.deepEqual(interpolateEnv('$${A}', { A: 'x' }), { value: '${A}', missing: [] });
    assert.deepEqual(interpolateEnv('${A}', { A: '' }), { value: '', missing: [] });
  });

  test('keys and numbers come from the environment', () => {
    const text = `server: { port: "\${PORT}" }\nauth: { apiKeys: ["\${K1}", "\${K2:-}"] }\nproviders:\n  m: { type: mock, apiKey: "\${SECRET}" }\nmodels:\n  chat: { providers: [{ provider: m }] }\n`;
    const c = parseConfig(text, { env: { PORT: '9090', K1: 'one', SECRET: 's3cr3t' } });
    assert.equal(c.server.port, 9090);
    assert.deepEqual(c.auth.apiKeys, ['one'], 'an empty entry is dropped');
    assert.equal(c.providers.m!.apiKey, 's3cr3t');
  });

  test('a missing variable is an error naming it, the field and the line', () => {
    const err = configError(`${MINIMAL}auth:\n  adminKey: "\${NOT_SET_ANYWHERE}"\n`);
    assert.equal(err.issues.length, 1);
    assert.equal(err.issues[0]!.path, 'auth.adminKey');
    assert.equal(err.issues[0]!.line, 8);
    assert.match(err.issues[0]!.message, /NOT_SET_ANYWHERE is not set/);
  });

  test('an interpolated value cannot inject YAML', () => {
    const c = parseConfig(MINIMAL.replace('type: mock }', 'type: mock, apiKey: "${K}" }'), { env: { K: 'a\nmodels: {}' } });
    assert.equal(c.providers.m!.apiKey, 'a\nmodels: {}');
    assert.ok(c.models.chat);
  });
});

describe('config: masking', () => {
  test('every secret is masked and the original is untouched (regression: a header value under a name that did not look secret, x-custom, was printed in clear)', () => {
    const text = `auth: { apiKeys: [gw-key-1], adminKey: admin-key-2 }
providers:
  p: { type: openai-compatible, baseUrl: "http://user:pw-3@127.0.0.1:1/v1", apiKey: provider-key-4, headers: { X-Api-Key: header-key-5, X-Trace: visible } }
models:
  chat: { providers: [{ provider: p }] }
`;
    const c = parseConfig(text, { env: {} });
    const masked = maskConfig(c);
    const out = JSON.stringify(masked);
    for (const secret of ['gw-key-1', 'admin-key-2', 'pw-3', 'provider-key-4', 'header-key-5']) assert.ok(!out.includes(secret), `${secret} leaked`);
    assert.deepEqual(masked.auth.apiKeys, [MASK]);
    assert.equal(masked.auth.adminKey, MASK);
    assert.equal(masked.providers.p!.apiKey, MASK);
    // Every header value, whatever its name (a proxy's token may be sent as any header): names stay.
    assert.deepEqual(masked.providers.p!.headers, { 'X-Api-Key': MASK, 'X-Trace': MASK });
    assert.equal(c.providers.p!.apiKey, 'provider-key-4');
  });
});
