import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { clientKeys, ConfigError, deploymentLimits, maskConfig, MASK, modelPricing, parseConfig } from '../../src/config/index.js';

const sha = (s: string): Buffer => createHash('sha256').update(s).digest();

const BASE = `providers:
  a: { type: mock }
  b: { type: mock }
models:
  chat:
    pricing: { input: 0.15, output: 0.6 }
    providers:
      - { provider: a, model: up, rpm: 100, tpm: 50000 }
      - { provider: b }
  other:
    providers:
      - { provider: a, model: up, rpm: 40 }
`;

function issues(text: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    parseConfig(text, { source: 't.yaml', env });
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  return assert.fail('expected the config to be rejected');
}

describe('config: keys, limits, pricing, usage', () => {
  test('named keys with key or keyHash, limits and models; the old apiKeys list still works', () => {
    const hash = `sha256:${sha('batch-secret').toString('hex')}`;
    const c = parseConfig(
      `auth:
  apiKeys: [old-key]
  keys:
    - { name: search-team, key: "\${SEARCH_KEY}", models: [chat], rpm: 600, tpm: 200000, maxConcurrent: 20 }
    - { name: batch-jobs, keyHash: "${hash}", tpm: 1000000 }
${BASE}`,
      { env: { SEARCH_KEY: 'search-secret' } },
    );
    const keys = clientKeys(c, sha);
    assert.equal(keys.length, 3);
    assert.equal(keys[0]!.name, undefined);
    assert.ok(keys[0]!.digest.equals(sha('old-key')));
    assert.deepEqual([keys[1]!.name, keys[1]!.rpm, keys[1]!.tpm, keys[1]!.maxConcurrent, [...keys[1]!.models!]], ['search-team', 600, 200000, 20, ['chat']]);
    assert.ok(keys[1]!.digest.equals(sha('search-secret')));
    assert.ok(keys[2]!.digest.equals(sha('batch-secret')), 'keyHash is the digest the server compares');
    assert.equal(keys[2]!.models, undefined);
  });

  test('defaults: usage ledger in ./adapterpool-usage.db, 90 days, batches; limits.defaultMaxTokens', () => {
    const c = parseConfig(BASE, { env: {} });
    assert.deepEqual(c.usage, {
      enabled: true,
      path: './adapterpool-usage.db',
      table: 'adapterpool_usage',
      retentionDays: 90,
      pruneInterval: 3_600_000,
      batchSize: 50,
      flushInterval: 1000,
      maxBuffer: 100_000,
      queryTimeout: 10_000,
    });
    assert.equal(c.limits.defaultMaxTokens, 4096);
    assert.equal(c.auth.keys, undefined);
  });

  test('deployment limits by pool key (smaller wins when two models share one) and pricing by model', () => {
    const c = parseConfig(BASE, { env: {} });
    const limits = deploymentLimits(c);
    assert.deepEqual(limits.get('up:a'), { rpm: 40, tpm: 50000 });
    assert.equal(limits.has('chat:b'), false);
    assert.deepEqual(modelPricing(c).get('chat'), { input: 0.15, output: 0.6 });
    assert.equal(modelPricing(c).has('other'), false);
  });

  test('bad keys are rejected naming the field', () => {
    assert.match(issues(`auth:\n  keys:\n    - { name: x }\n${BASE}`), /auth\.keys\[0\]\.key.*exactly one of key and keyHash/);
    assert.match(issues(`auth:\n  keys:\n    - { name: x, key: a, keyHash: "sha256:${'0'.repeat(64)}" }\n${BASE}`), /exactly one of key and keyHash/);
    assert.match(issues(`auth:\n  keys:\n    - { name: x, keyHash: "md5:abc" }\n${BASE}`), /keyHash must be "sha256:"/);
    assert.match(issues(`auth:\n  keys:\n    - { name: x, key: a }\n    - { name: x, key: b }\n${BASE}`), /duplicate key name "x"/);
    assert.match(issues(`auth:\n  keys:\n    - { name: x, key: a }\n    - { name: y, key: a }\n${BASE}`), /repeats another entry's key/);
    assert.match(issues(`auth:\n  keys:\n    - { name: x, key: a, models: [nope] }\n${BASE}`), /auth\.keys\[0\]\.models\[0\].*unknown model "nope"/);
    assert.match(issues(`auth:\n  keys:\n    - { name: x, key: a, rpm: 0 }\n${BASE}`), /auth\.keys\[0\]\.rpm/);
    assert.match(issues(`auth:\n  keys:\n    - { name: x, key: "\${K:-}" }\n${BASE}`), /key is empty/);
    assert.match(issues(`usage: { table: "x; drop" }\n${BASE}`), /usage\.table/);
    assert.match(issues(`usage: { maxBuffer: 0 }\n${BASE}`), /usage\.maxBuffer/);
  });

  test('named keys and the postgres password are masked', () => {
    const c = parseConfig(`auth:\n  keys:\n    - { name: x, key: secret-one }\nusage: { postgres: "postgres://u:pw@db/x" }\n${BASE}`, { env: {} });
    const m = maskConfig(c);
    assert.equal(m.auth.keys![0]!.key, MASK);
    assert.equal(m.auth.keys![0]!.name, 'x');
    assert.ok(!JSON.stringify(m).includes('secret-one'));
    assert.ok(!JSON.stringify(m).includes(':pw@'));
    assert.equal(c.auth.keys![0]!.key, 'secret-one');
  });
});
