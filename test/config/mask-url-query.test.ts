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
