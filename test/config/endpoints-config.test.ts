import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, modelRoutes, parseConfig, toProviderConfig } from '../../src/config/index.js';

function configError(text: string): ConfigError {
  try {
    parseConfig(text, { source: 'test.yaml', env: {} });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the config to be rejected');
}

describe('config: models.<name>.endpoints', () => {
  test('chat by default; embeddings, or both', () => {
    const cfg = parseConfig(
      `providers:\n  m: { type: mock, mock: { dimensions: 8 } }\nmodels:\n  chat: { providers: [{ provider: m }] }\n  emb: { endpoints: [embeddings], providers: [{ provider: m }] }\n  both: { endpoints: [chat, embeddings, chat], providers: [{ provider: m }] }\n`,
      { env: {} },
    );
    const routes = modelRoutes(cfg);
    assert.deepEqual(routes.get('chat')!.endpoints, ['chat']);
    assert.deepEqual(routes.get('emb')!.endpoints, ['embeddings']);
    assert.deepEqual(routes.get('both')!.endpoints, ['chat', 'embeddings']);
    assert.equal(toProviderConfig('m', cfg.providers.m!).mock?.dimensions, 8);
  });

  test('an unknown endpoint and an empty list are refused with their line', () => {
    const err = configError(`providers:\n  m: { type: mock }\nmodels:\n  emb:\n    endpoints: [images]\n    providers: [{ provider: m }]\n`);
    assert.equal(err.issues[0]!.path, 'models.emb.endpoints[0]');
    assert.equal(err.issues[0]!.line, 5);
    const empty = configError(`providers:\n  m: { type: mock }\nmodels:\n  emb:\n    endpoints: []\n    providers: [{ provider: m }]\n`);
    assert.equal(empty.issues[0]!.path, 'models.emb.endpoints');
  });

  test('an embeddings model routed to an anthropic provider is refused at the deployment line', () => {
    const err = configError(
      `providers:\n  m: { type: mock }\n  claude: { type: anthropic, apiKey: k }\nmodels:\n  emb:\n    endpoints: [chat, embeddings]\n    providers:\n      - { provider: m }\n      - { provider: claude, model: claude-sonnet-4-5 }\n`,
    );
    assert.equal(err.issues.length, 1);
    assert.equal(err.issues[0]!.path, 'models.emb.providers[1].provider');
    assert.equal(err.issues[0]!.line, 9);
    assert.match(err.issues[0]!.message, /serves embeddings, but provider "claude" \(type anthropic\) has no embeddings endpoint/);
    assert.match(err.message, /test\.yaml:9:\d+: models\.emb\.providers\[1\]\.provider/);
  });

  test('deepseek and moonshot have no embeddings API either: an embeddings model on them is refused (it was accepted, and every call failed upstream with 404 / 403)', () => {
    for (const type of ['deepseek', 'moonshot']) {
      const err = configError(`providers:\n  p: { type: ${type}, apiKey: k }\nmodels:\n  emb:\n    endpoints: [embeddings]\n    providers:\n      - { provider: p, model: m }\n`);
      assert.equal(err.issues.length, 1, type);
      assert.equal(err.issues[0]!.path, 'models.emb.providers[0].provider');
      assert.match(err.issues[0]!.message, new RegExp(`provider "p" \\(type ${type}\\) has no embeddings endpoint`));
      parseConfig(`providers:\n  p: { type: ${type}, apiKey: k }\nmodels:\n  c: { providers: [{ provider: p, model: m }] }\n`, { env: {} });
    }
  });

  test('a chat-only model may use an anthropic provider', () => {
    parseConfig(`providers:\n  claude: { type: anthropic, apiKey: k }\nmodels:\n  c: { providers: [{ provider: claude }] }\n`, { env: {} });
  });
});
