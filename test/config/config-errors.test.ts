import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, maskConfig, maskUrl, MASK, parseConfig } from '../../src/config/index.js';
import { configError } from './helpers.js';

const lines = (err: ConfigError) => err.message.split('\n').slice(1).map((l) => l.trim());

describe('config errors (issue 15)', () => {
  test('provider-level errors say "config:" instead of FILE:line: missing apiKey and Azure deployment name the file and the provider line', () => {
    const err = configError(`providers:
  oa: { type: openai }
  az: { type: azure-openai, baseUrl: "https://x.openai.azure.com", apiKey: k }
models:
  a: { providers: [{ provider: oa, model: gpt-4o }] }
  b: { providers: [{ provider: az, model: gpt-4o }] }
`);
    assert.deepEqual(
      err.issues.map((i) => [i.path, i.line]),
      [
        ['providers.oa', 2],
        ['providers.az', 3],
      ],
    );
    assert.match(lines(err)[0]!, /^gw\.yaml:2:\d+: providers\.oa: .*needs "apiKey"/);
    assert.match(lines(err)[1]!, /^gw\.yaml:3:\d+: providers\.az: .*needs "deployment"/);
    assert.ok(!err.message.includes('config:'), err.message);
  });

  test('baseUrl without a scheme passes the schema: rejected in the schema with a clear message', () => {
    const err = configError(`providers:\n  local: { type: openai-compatible, baseUrl: "localhost:11434/v1" }\nmodels:\n  a: { providers: [{ provider: local, model: llama3 }] }\n`);
    assert.equal(err.issues.length, 1, err.message);
    assert.equal(err.issues[0]!.path, 'providers.local.baseUrl');
    assert.equal(err.issues[0]!.line, 2);
    assert.match(err.issues[0]!.message, /scheme.*http:\/\/localhost:11434\/v1/);
    // ftp:// is a URL, not an upstream.
    assert.match(configError(`providers:\n  l: { type: openai-compatible, baseUrl: "ftp://h/v1" }\nmodels:\n  a: { providers: [{ provider: l }] }\n`).issues[0]!.message, /invalid URL/);
  });

  test('errors reported in separate passes: every error of the file at once, each once, in line order', () => {
    const err = configError(
      `server: { port: "\${PORT_NOT_SET}" }
pool: { minPoolSize: 5, maxPoolSize: 3 }
providers:
  oa: { type: openai }
  m: { type: mock, colour: red }
  w: { type: warp-drive }
models:
  a: { providers: [{ provider: oa, model: gpt }, { provider: nope }] }
  b: { providers: [{ provider: m }, { provider: m, model: m2, pool: { minPoolSize: 9 } }] }
`,
    );
    assert.deepEqual(
      err.issues.map((i) => [i.line, i.path]),
      [
        [1, 'server.port'],
        [2, 'pool.minPoolSize'],
        [4, 'providers.oa'],
        [5, 'providers.m.colour'],
        [6, 'providers.w.type'],
        [8, 'models.a.providers[1].provider'],
        [9, 'models.b.providers[1].pool'],
      ],
      err.message,
    );
    assert.match(err.issues[0]!.message, /PORT_NOT_SET is not set/);
  });

  test('an empty variable gave only "Expected number, received string": the message names the variable (never its value)', () => {
    const err = configError(
      `server: { port: "\${PORT}" }
auth: { adminKey: "\${ADMIN_SECRET}", apiKeys: "\${KEYS}" }
providers: { m: { type: mock } }
models: { a: { providers: [{ provider: m }] } }
`,
      { PORT: '', ADMIN_SECRET: 'sk-very-secret-admin', KEYS: 'sk-also-secret' },
    );
    const port = err.issues.find((i) => i.path === 'server.port');
    assert.match(port?.message ?? '', /\(from \$\{PORT\}, which is empty\)$/);
    const keys = err.issues.find((i) => i.path === 'auth.apiKeys');
    assert.match(keys?.message ?? '', /\(from \$\{KEYS\}\)$/);
    assert.ok(!err.message.includes('sk-also-secret') && !err.message.includes('sk-very-secret-admin'), err.message);
  });

  test('a provider with a bad field hides its provider-level errors until that field is fixed: both at once, neither twice', () => {
    const err = configError(`providers:
  oa: { type: openai, timeout: 5s }
  az: { type: azure-openai, apiKey: k, baseUrl: "https://r.example", connectTimeout: banana }
  bad: { type: openai, apiKey: 42 }
models:
  a: { providers: [{ provider: oa, model: gpt }, { provider: az, model: gpt }, { provider: bad, model: gpt }] }
`);
    assert.deepEqual(
      err.issues.map((i) => [i.line, i.path, i.message.replace(/:.*$/s, '')]),
      [
        [2, 'providers.oa', 'provider "oa" (type openai) needs "apiKey"'],
        [2, 'providers.oa.timeout', 'unknown field "timeout"'],
        [3, 'providers.az', 'provider "az" (type azure-openai) needs "deployment"'],
        [3, 'providers.az.connectTimeout', 'invalid duration "banana"'],
        [4, 'providers.bad.apiKey', 'Expected string, received number'],
      ],
      err.message,
    );
  });

  test('a bad field in pool or in a client key hides minPoolSize > maxPoolSize and the key\'s unknown model until it is fixed: all at once', () => {
    // A wrong type elsewhere stops zod before its whole-file checks: the sections are checked on their own then.
    const err = configError(`routing: { maxAttempts: many }
auth:
  keys:
    - { name: k1, key: secret-1, models: [nope], rpm: -1 }
    - { name: k2, keyHash: "sha256:xyz", models: [also-nope] }
pool: { minPoolSize: 3, maxPoolSize: 2, bogus: 1 }
providers:
  m: { type: mock }
models:
  a: { providers: [{ provider: m }] }
`);
    assert.deepEqual(
      err.issues.map((i) => [i.line, i.path]),
      [
        [1, 'routing.maxAttempts'],
        [4, 'auth.keys[0].models[0]'],
        [4, 'auth.keys[0].rpm'],
        [5, 'auth.keys[1].keyHash'],
        [5, 'auth.keys[1].models[0]'],
        [6, 'pool.minPoolSize'],
        [6, 'pool.bogus'],
      ],
      err.message,
    );
    // A bad minPoolSize is not replaced by its default and compared: only its own error.
    const own = configError(`pool: { minPoolSize: -1, maxPoolSize: 1 }\nproviders:\n  m: { type: mock }\nmodels:\n  a: { providers: [{ provider: m }] }\n`);
    assert.deepEqual(own.issues.map((i) => i.path), ['pool.minPoolSize'], own.message);
  });

  test('a client key with a bad keyHash hides its unknown model until the hash is fixed: both at once, no false duplicate', () => {
    const err = configError(`routing: { maxAttempts: many }
auth:
  keys:
    - { name: k1, keyHash: "sha256:xyz", models: [nope] }
    - { name: k2, keyHash: "sha256:abc", models: [a] }
providers:
  m: { type: mock }
models:
  a: { providers: [{ provider: m }] }
`);
    assert.deepEqual(
      err.issues.map((i) => [i.line, i.path]),
      [
        [1, 'routing.maxAttempts'],
        [4, 'auth.keys[0].keyHash'],
        [4, 'auth.keys[0].models[0]'],
        [5, 'auth.keys[1].keyHash'],
      ],
      err.message,
    );
  });

  test('a client key with a bad name hid that its key repeats an apiKeys entry (and its unknown model) until the name was fixed: all at once', () => {
    const err = configError(`auth:
  apiKeys: ["dup"]
  keys:
    - { name: "bad name!", key: "dup", models: [nope] }
    - { name: 7, key: "other" }
    - { key: "third" }
providers: { m: { type: mock } }
models: { s: { strategy: random, providers: [ { provider: m } ] } }
`);
    assert.deepEqual(
      err.issues.map((i) => [i.line, i.path]),
      [
        [2, 'auth.apiKeys[0]'],
        [4, 'auth.keys[0].name'],
        [4, 'auth.keys[0].models[0]'],
        [5, 'auth.keys[1].name'],
        [6, 'auth.keys[2].name'],
        [8, 'models.s.strategy'],
      ],
      err.message,
    );
    assert.match(err.issues[0]!.message, /the same key as auth\.keys\[0\]/);
    assert.ok(!err.message.includes('duplicate key name'), 'keys without a usable name are not one name listed twice');
  });

  test('regression: a key set in the wrong field from a variable (baseUrl: ${OPENAI_KEY}) was quoted in full by that field\'s error, twice; so was any variable\'s value', () => {
    const key = 'sk-PROVSECRET-1234567890abcdef';
    const err = configError(
      `providers:\n  p: { type: openai, baseUrl: "\${OPENAI_KEY}" }\nlogging: { level: "\${LEVEL}" }\nmodels:\n  m: { providers: [{ provider: p, model: gpt-4o }] }\n`,
      { OPENAI_KEY: key, LEVEL: 'verbose-level-9' },
    );
    assert.ok(!err.message.includes(key.slice(3, 20)), err.message);
    assert.ok(!err.message.includes('verbose-level-9'), err.message);
    assert.match(err.message, /providers\.p\.baseUrl: invalid URL "\*{8}".*\(from \$\{OPENAI_KEY\}\)/);
    assert.match(err.message, /logging\.level: .*\(from \$\{LEVEL\}\)/);
  });

  test('one minPoolSize > maxPoolSize prints four lines: one line', () => {
    const err = configError(`pool: { minPoolSize: 5, maxPoolSize: 3 }
providers:
  m: { type: mock }
models:
  a: { providers: [{ provider: m, model: x }, { provider: m, model: y }] }
  b: { providers: [{ provider: m, model: z }] }
`);
    assert.equal(err.issues.length, 1, err.message);
    assert.equal(err.message.split('\n').length, 2);
    assert.equal(err.issues[0]!.path, 'pool.minPoolSize');
  });

  test('an unset variable in a number field is reported once (not again as a wrong type)', () => {
    const err = configError(`server: { port: "\${NO_PORT}" }\nproviders:\n  m: { type: mock }\nmodels:\n  a: { providers: [{ provider: m }] }\n`);
    assert.equal(err.issues.length, 1, err.message);
  });

  test('booleans cannot come from environment variables: "true"/"false" strings accepted like numbers are', () => {
    const text = `logging: { logPrompts: "\${LOG_PROMPTS:-false}" }
metrics: { enabled: "\${METRICS:-true}", processMetrics: "\${PROC}" }
providers:
  m: { type: mock, mock: { unhealthy: "\${UNHEALTHY:-false}" } }
models:
  a: { providers: [{ provider: m }] }
`;
    const c = parseConfig(text, { env: { PROC: 'FALSE' } });
    assert.equal(c.logging.logPrompts, false);
    assert.equal(c.metrics.enabled, true);
    assert.equal(c.metrics.processMetrics, false);
    assert.equal(c.providers.m!.mock!.unhealthy, false);
    assert.equal(parseConfig(text, { env: { LOG_PROMPTS: 'true', PROC: 'true' } }).logging.logPrompts, true);
    const err = configError(text, { LOG_PROMPTS: 'maybe', PROC: 'true' });
    assert.equal(err.issues[0]!.path, 'logging.logPrompts');
    assert.match(err.issues[0]!.message, /boolean/);
  });

  test('providers.*.streamUsage cannot come from an environment variable ("Expected boolean, received string"): accepted like the other booleans', () => {
    const text = `providers:\n  v: { type: vllm, baseUrl: "http://127.0.0.1:8000/v1", streamUsage: "\${VLLM_STREAM_USAGE:-false}" }\nmodels:\n  a: { providers: [{ provider: v, model: q }] }\n`;
    assert.equal(parseConfig(text, { env: {} }).providers.v!.streamUsage, false);
    assert.equal(parseConfig(text, { env: { VLLM_STREAM_USAGE: 'true' } }).providers.v!.streamUsage, true);
  });
});

describe('check-config masking (issue 15)', () => {
  test('secrets in a URL\'s query string printed unmasked: ?api-key= and ?key= masked, other parameters kept', () => {
    const c = parseConfig(
      `providers:
  az: { type: openai-compatible, baseUrl: "https://res.example/openai?api-version=2024-06-01&api-key=QS-SECRET-1" }
  g: { type: openai-compatible, baseUrl: "https://user:URL-PW-2@gen.example/v1?key=QS-SECRET-3&access_token=QS-SECRET-4" }
models:
  a: { providers: [{ provider: az }, { provider: g }] }
`,
      { env: {} },
    );
    const text = JSON.stringify(maskConfig(c));
    for (const secret of ['QS-SECRET-1', 'URL-PW-2', 'QS-SECRET-3', 'QS-SECRET-4', 'user']) assert.ok(!text.includes(secret), `${secret} printed: ${text}`);
    assert.match(text, /api-version=2024-06-01/);
    assert.equal(maskUrl('https://h/v1?api-key=abc&x=1'), `https://h/v1?api-key=${MASK}&x=1`);
    assert.equal(maskUrl('https://h/v1?x=1'), 'https://h/v1?x=1');
    assert.equal(c.providers.az!.baseUrl, 'https://res.example/openai?api-version=2024-06-01&api-key=QS-SECRET-1', 'the original is untouched');
  });

  test('cluster.redis printed with its password by check-config and GET /v1/admin/config: masked', () => {
    const c = parseConfig(
      `cluster: { redis: "redis://:REDIS-PW-1@127.0.0.1:6379/0" }
providers:
  m: { type: mock }
models:
  a: { providers: [{ provider: m }] }
`,
      { env: {} },
    );
    const text = JSON.stringify(maskConfig(c));
    assert.ok(!text.includes('REDIS-PW-1'), `the Redis password printed: ${text}`);
    assert.match(text, /redis:\/\/:\*+@127\.0\.0\.1:6379\/0/);
    assert.equal(c.cluster.redis, 'redis://:REDIS-PW-1@127.0.0.1:6379/0', 'the original is untouched');
  });

  test('a scheme-less baseUrl\'s error echoes its query-string key: masked in the message', () => {
    const err = configError(`providers:\n  az: { type: openai-compatible, baseUrl: "res.example/openai?api-key=QS-SECRET-9" }\nmodels:\n  a: { providers: [{ provider: az }] }\n`);
    assert.ok(!err.message.includes('QS-SECRET-9'), err.message);
    assert.match(err.message, /providers\.az\.baseUrl: invalid URL/);
  });
});
