import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { MASK, parseConfig } from '../../src/config/index.js';
import { CLI_CHECKS, configError } from './helpers.js';

/**
 * Config mistakes an operator's audit found passing `check-config` (or printing a secret): each
 * test is named after what went wrong.
 */


const MODELS = `providers:
  up: { type: mock }
models:
  m: { providers: [{ provider: up }] }
  other: { providers: [{ provider: up, model: o }] }
`;


const accepted = (text: string) => parseConfig(text, { source: 'gw.yaml', env: {}, ...CLI_CHECKS });
const sha256 = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

describe('config mistakes that passed check-config', () => {
  test('regression: a key in apiKeys that is also a named key passed, and the unnamed listing won (no limits, no ledger name)', () => {
    const err = configError(`auth:\n  apiKeys: [team-a-secret-1]\n  keys:\n    - { name: a, key: team-a-secret-1, rpm: 1 }\n${MODELS}`);
    assert.equal(err.issues.length, 1, err.message);
    assert.equal(err.issues[0]!.path, 'auth.apiKeys[0]');
    assert.equal(err.issues[0]!.line, 2);
    assert.match(err.issues[0]!.message, /same key as auth\.keys\[0\] \("a"\)/);
    assert.ok(!err.message.includes('team-a-secret-1'), err.message);
  });

  test('regression: a named keyHash and another entry\'s plain key of the same secret passed (the first listing decided the models)', () => {
    const err = configError(`auth:\n  keys:\n    - { name: b, keyHash: "${sha256('shared-secret-9')}" }\n    - { name: c, key: shared-secret-9, models: [m] }\n${MODELS}`);
    assert.deepEqual(
      err.issues.map((i) => i.path),
      ['auth.keys[1]'],
    );
    assert.match(err.issues[0]!.message, /key "c" repeats another entry's key \(auth\.keys\[0\] \("b"\)\)/);
  });

  test('regression: a client key equal to the admin key passed, so a client could administer', () => {
    for (const auth of [`  adminKey: admin-secret-7\n  apiKeys: [admin-secret-7]\n`, `  adminKey: admin-secret-7\n  keys:\n    - { name: ops, key: admin-secret-7 }\n`]) {
      const err = configError(`auth:\n${auth}${MODELS}`);
      assert.equal(err.issues.length, 1, err.message);
      assert.match(err.issues[0]!.message, /same key as auth\.adminKey: a client key must differ from the admin key/);
      assert.ok(!err.message.includes('admin-secret-7'), err.message);
    }
    // Distinct keys everywhere still pass.
    assert.ok(accepted(`auth:\n  adminKey: admin-secret-7\n  apiKeys: [plain-key-1]\n  keys:\n    - { name: a, key: team-a-secret-1 }\n${MODELS}`));
  });

  test('regression: minPoolSize over pool.maxTotal passed check-config, then serve exited with a bare AdapterPool RangeError', () => {
    const err = configError(`pool: { minPoolSize: 3, maxTotal: 2 }\n${MODELS}`);
    assert.equal(err.issues.length, 1, err.message);
    assert.equal(err.issues[0]!.path, 'pool.maxTotal');
    assert.equal(err.issues[0]!.line, 1);
    assert.match(err.issues[0]!.message, /the minPoolSize of the configured pools \(6\) exceeds maxTotal \(2\)/);
    assert.ok(accepted(`pool: { minPoolSize: 1, maxTotal: 2 }\n${MODELS}`));
  });

  test('regression: a model listing the same deployment twice passed (one pool and one circuit; the weights meant nothing, requests showed on both rows)', () => {
    const err = configError(`providers:\n  up: { type: mock }\nmodels:\n  m: { providers: [{ provider: up, model: x, weight: 1 }, { provider: up, model: x, weight: 9 }] }\n`);
    assert.equal(err.issues.length, 1, err.message);
    assert.equal(err.issues[0]!.path, 'models.m.providers[1]');
    assert.match(err.issues[0]!.message, /lists provider "up" with upstream model "x" twice/);
    // The same provider with two upstream models, or one deployment under two models, is fine.
    assert.ok(accepted(`providers:\n  up: { type: mock }\nmodels:\n  m: { providers: [{ provider: up, model: x }, { provider: up, model: y }] }\n  n: { providers: [{ provider: up, model: x }] }\n`));
  });

  test('regression: retryBackoffInitial longer than retryBackoffMax passed (the createRetry pair was refused)', () => {
    const err = configError(`routing: { retryBackoffInitial: 10s, retryBackoffMax: 1s }\n${MODELS}`);
    assert.equal(err.issues.length, 1, err.message);
    assert.equal(err.issues[0]!.path, 'routing.retryBackoffMax');
    assert.match(err.issues[0]!.message, /retryBackoffMax \(1s\) is shorter than retryBackoffInitial \(10s\)/);
    // Reported with other errors too (the whole-file parse failed on another field).
    const both = configError(`server: { port: -1 }\nrouting: { retryBackoffInitial: 10s, retryBackoffMax: 1s }\n${MODELS}`);
    assert.deepEqual(both.issues.map((i) => i.path).sort(), ['routing.retryBackoffMax', 'server.port']);
  });

  test('regression: usage.postgres was not checked: a mysql:// URL or a bad port started a ledger that dropped every row', () => {
    for (const url of ['mysql://u:pw-secret-1@127.0.0.1/db', 'postgres://u:pw-secret-1@127.0.0.1:notaport/db']) {
      const err = configError(`usage: { postgres: "${url}" }\n${MODELS}`);
      assert.equal(err.issues.length, 1, err.message);
      assert.equal(err.issues[0]!.path, 'usage.postgres');
      assert.match(err.issues[0]!.message, /use postgres:\/\//);
      assert.ok(!err.message.includes('pw-secret-1'), err.message);
    }
    assert.ok(accepted(`usage: { postgres: "postgresql://u:pw@127.0.0.1:5432/db" }\n${MODELS}`));
  });

  test('regression: a key written twice in one map was reported as "Map keys must be unique" without naming it', () => {
    const err = configError(`server:\n  port: 8080\n  host: 127.0.0.1\n  port: 9090\n${MODELS}`);
    assert.equal(err.issues.length, 1, err.message);
    assert.equal(err.issues[0]!.line, 4);
    assert.match(err.issues[0]!.message, /"port" appears twice/);
  });

  test('regression: a baseUrl with a bad port was told to "use http:// or https://"', () => {
    const err = configError(`providers:\n  up: { type: openai-compatible, baseUrl: "http://127.0.0.1:99999/v1" }\nmodels:\n  m: { providers: [{ provider: up }] }\n`);
    assert.equal(err.issues.length, 1, err.message);
    assert.equal(err.issues[0]!.path, 'providers.up.baseUrl');
    assert.match(err.issues[0]!.message, /check the host and the port/);
    assert.ok(!err.issues[0]!.message.includes('use http://'), err.message);
  });

  test('regression: the only model with a typo also gave "models: at least one model is required"', () => {
    const err = configError(`providers:\n  up: { type: mock }\nmodels:\n  m:\n    strategy: failover\n    provider: [{ provider: up }]\n`);
    assert.ok(!err.message.includes('at least one model'), err.message);
    assert.ok(err.issues.every((i) => i.path.startsWith('models.m')), err.message);
    assert.match(configError(`providers:\n  up: { type: mock }\nmodels: {}\n`).message, /at least one model is required/);
  });

  test('regression: a secret put in the wrong field (env variables swapped) was printed in clear by the config error', () => {
    const env = { AP_KEY: 'sk-REALOPENAIKEY123', CLIENT: 'cli-K6SECRET' };
    const err = configError(
      `auth: { apiKeys: ["\${CLIENT}"] }
server: { bodyLimit: "\${CLIENT}" }
providers:
  a: { type: openai, apiKey: "\${AP_KEY}" }
  b: { type: openai-compatible, baseUrl: "\${AP_KEY}" }
models:
  m: { providers: [{ provider: a, model: gpt-4o }, { provider: b, model: x }] }
`,
      env,
    );
    assert.deepEqual(err.issues.map((i) => i.path).sort(), ['providers.b.baseUrl', 'server.bodyLimit']);
    for (const secret of Object.values(env)) assert.ok(!err.message.includes(secret), err.message);
    assert.ok(err.message.includes(MASK), err.message);
  });

  test('regression: a duration past 2^31-1 ms (25d) passed check-config; Node fired its timer after 1 ms (a 25-day shutdownTimeout cut requests at once) or the pool refused it at serve', () => {
    for (const [yaml, path] of [
      ['server: { shutdownTimeout: 25d }', 'server.shutdownTimeout'],
      ['pool: { acquireTimeout: 25d }', 'pool.acquireTimeout'],
      ['usage: { pruneInterval: 25d }', 'usage.pruneInterval'],
      ['cluster: { connectTimeout: 25d }', 'cluster.connectTimeout'],
    ] as const) {
      const err = configError(`${yaml}\n${MODELS}`);
      assert.deepEqual(err.issues.map((x) => x.path), [path], err.message);
      assert.match(err.issues[0]!.message, /2147483647ms \(24 days 20 hours/);
    }
    // A deployment's own pool override too.
    const err = configError(`providers:\n  up: { type: mock }\nmodels:\n  m: { providers: [{ provider: up, pool: { idleTimeout: 30d } }] }\n`);
    assert.deepEqual(err.issues.map((x) => x.path), ['models.m.providers[0].pool.idleTimeout'], err.message);
    // 24 days is within the limit.
    assert.equal(accepted(`server: { shutdownTimeout: 24d }\n${MODELS}`).server.shutdownTimeout, 24 * 86_400_000);
  });

  test('regression: 0 for an interval or a timeout passed check-config; pruneInterval 0 pruned non-stop, flushInterval 0 reconnected to a down PostgreSQL ~900 times a second, healthCheckTimeout 0 stopped serve', () => {
    for (const [yaml, path] of [
      ['usage: { pruneInterval: 0 }', 'usage.pruneInterval'],
      ['usage: { flushInterval: 0 }', 'usage.flushInterval'],
      ['pool: { healthCheckTimeout: 0 }', 'pool.healthCheckTimeout'],
      ['pool: { cleanupInterval: 0 }', 'pool.cleanupInterval'],
      ['pool: { createRetryInitial: 0, createRetryMax: 0 }', 'pool.createRetryInitial'],
    ] as const) {
      const err = configError(`${yaml}\n${MODELS}`);
      assert.equal(err.issues[0]!.path, path, err.message);
      assert.match(err.issues[0]!.message, /use 1ms to/);
    }
    // Where README gives 0 a meaning, it still passes.
    const c = accepted(`logging: { flushInterval: 0 }\nrouting: { fullPoolWait: 0 }\n${MODELS}`);
    assert.equal(c.logging.flushInterval, 0);
    assert.equal(c.routing.fullPoolWait, 0);
  });

  test('regression: pool.acquireTimeout 0 passed check-config and then failed every request that needed a new adapter; closeTimeout, requestTimeout (0 also ended every retry) and circuitWindow took a 0 README gave no meaning', () => {
    for (const [yaml, path] of [
      ['pool: { acquireTimeout: 0 }', 'pool.acquireTimeout'],
      ['pool: { closeTimeout: 0 }', 'pool.closeTimeout'],
      ['routing: { requestTimeout: 0 }', 'routing.requestTimeout'],
      ['routing: { circuitWindow: 0 }', 'routing.circuitWindow'],
    ] as const) {
      const err = configError(`${yaml}\n${MODELS}`);
      assert.deepEqual(err.issues.map((x) => x.path), [path], err.message);
      assert.match(err.issues[0]!.message, /use 1ms to/);
    }
    const err = configError(`providers:\n  up: { type: mock }\nmodels:\n  m: { providers: [{ provider: up, pool: { acquireTimeout: 0 } }] }\n`);
    assert.deepEqual(err.issues.map((x) => x.path), ['models.m.providers[0].pool.acquireTimeout'], err.message);
    // The zeros README gives a meaning still pass.
    const c = accepted(`routing: { retryBackoffInitial: 0, retryBackoffMax: 0, maxRetryAfter: 0, circuitCooldown: 0 }\nserver: { reloadDebounce: 0 }\n${MODELS}`);
    assert.equal(c.routing.maxRetryAfter, 0);
    assert.equal(c.server.reloadDebounce, 0);
  });

  test('regression: unset variables made false "repeats another entry\'s key" errors, and an unset provider apiKey was reported twice (the variable, then "needs apiKey")', () => {
    const err = configError(`auth:
  adminKey: "\${ADMIN_KEY}"
  keys:
    - { name: a, key: "\${A_KEY}" }
    - { name: b, key: "\${B_KEY:-}" }
    - { name: c, key: "\${C_KEY:-}" }
providers:
  openai: { type: openai, apiKey: "\${OPENAI_API_KEY}" }
models:
  m: { providers: [{ provider: openai, model: gpt-4o-mini }] }
`);
    assert.deepEqual(
      err.issues.map((x) => x.path),
      ['auth.adminKey', 'auth.keys[0].key', 'auth.keys[1].key', 'auth.keys[2].key', 'providers.openai.apiKey'],
      err.message,
    );
    assert.ok(!/repeats|needs "apiKey"/.test(err.message), err.message);
    // Two entries that really share a key are still told.
    const dup = configError(`auth:\n  keys:\n    - { name: a, key: "\${K}" }\n    - { name: b, key: "\${K}" }\n${MODELS}`, { K: 'shared-key-1234' });
    assert.match(dup.message, /key "b" repeats another entry's key/);
  });

  test('regression: a bad field in a deployment hid that deployment\'s unknown provider until the field was fixed', () => {
    const err = configError(`providers: { mock: { type: mock } }\nmodels:\n  chat: { providers: [ { provider: ghost, model: a, weight: heavy } ] }\n`);
    assert.deepEqual(err.issues.map((x) => x.path).sort(), ['models.chat.providers[0].provider', 'models.chat.providers[0].weight'], err.message);
    assert.match(err.message, /unknown provider "ghost"/);
  });

  test('regression: server.host "[::1]" or "999.1.1.1" passed check-config, then serve stopped with a bare "getaddrinfo ENOTFOUND"', () => {
    for (const [host, said] of [
      ['"[::1]"', /without brackets: ::1/],
      ['999.1.1.1', /not an IPv4 address/],
      ['"a b"', /neither an IP address nor a host name/],
    ] as const) {
      const err = configError(`server: { host: ${host} }\n${MODELS}`);
      assert.deepEqual(err.issues.map((x) => x.path), ['server.host'], err.message);
      assert.match(err.issues[0]!.message, said);
    }
    for (const host of ['127.0.0.1', '0.0.0.0', '"::"', '"::1"', 'localhost', 'gateway-1.internal']) assert.ok(accepted(`server: { host: ${host} }\n${MODELS}`).server.host.length > 0, host);
  });
});
