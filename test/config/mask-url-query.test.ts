import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MASK, maskConfig, parseConfig } from '../../src/config/index.js';

describe('config: masking (#16 item 3)', () => {
  test('a key in baseUrl\'s query string is masked when the config is printed', () => {
    const c = parseConfig(
      'providers:\n  g: { type: openai-compatible, baseUrl: "https://example.com/v1?key=qs-secret-1&key=qs-secret-2&region=eu" }\nmodels:\n  chat: { providers: [{ provider: g }] }\n',
      { env: {} },
    );
    const url = new URL(maskConfig(c).providers.g!.baseUrl!);
    assert.ok(url.searchParams.getAll('key').length > 0 && url.searchParams.getAll('key').every((v) => v === MASK));
    assert.equal(url.searchParams.get('region'), 'eu', 'a parameter that does not look secret stays readable');
    assert.ok(!JSON.stringify(maskConfig(c)).includes('qs-secret'));
    assert.equal(c.providers.g!.baseUrl, 'https://example.com/v1?key=qs-secret-1&key=qs-secret-2&region=eu');
  });
});

describe('config: masking cluster.redis', () => {
  test('GET /v1/admin/config and check-config printed the Redis password in cluster.redis', () => {
    const c = parseConfig(
      'cluster: { redis: "redis://default:redis-secret-9@127.0.0.1:6379/0" }\nproviders:\n  g: { type: mock }\nmodels:\n  chat: { providers: [{ provider: g }] }\n',
      { env: {} },
    );
    const m = maskConfig(c);
    assert.ok(!JSON.stringify(m).includes('redis-secret-9'));
    assert.equal(new URL(m.cluster.redis!).host, '127.0.0.1:6379', 'where it connects stays readable');
    assert.equal(c.cluster.redis, 'redis://default:redis-secret-9@127.0.0.1:6379/0', 'the config itself is untouched');
  });
});

describe('config: an invalid baseUrl in an error message', () => {
  test('a baseUrl without its scheme echoed its ?api-key= and user:password into the error (logged, and returned by POST /v1/admin/reload)', () => {
    for (const [url, secret] of [
      ['api.example.com/v1?api-key=leak-secret-1&region=eu', 'leak-secret-1'],
      ['ftp://user:leak-pass-2@example.com/v1', 'leak-pass-2'],
      ['https://exa mple.com/?key=leak-3', 'leak-3'],
      // Does not parse (the space): masked as text, user:password included.
      ['https://user:leak-pass-4@exa mple.com/v1', 'leak-pass-4'],
    ] as const) {
      let message = '';
      try {
        parseConfig(`providers:\n  g: { type: openai-compatible, baseUrl: "${url}" }\nmodels:\n  chat: { providers: [{ provider: g }] }\n`, { env: {} });
      } catch (err) {
        message = (err as Error).message;
      }
      assert.match(message, /providers\.g\.baseUrl: invalid URL/);
      assert.ok(!message.includes(secret), message);
    }
  });
});
