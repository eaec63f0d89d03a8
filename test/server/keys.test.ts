import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { call } from './helpers.js';
import { startKeyedGateway } from './keys-helpers.js';

type Gw = Awaited<ReturnType<typeof startKeyedGateway>>;

const SEARCH_KEY = 'sk-search-0123456789abcdef';
const BATCH_KEY = 'sk-batch-fedcba9876543210';
const OLD_KEY = 'sk-old-plain-key';
const ADMIN = 'sk-admin-key-xyz';

const CONFIG = `auth:
  apiKeys: ["${OLD_KEY}"]
  adminKey: "${ADMIN}"
  keys:
    - { name: search-team, key: "\${SEARCH_KEY}", models: [chat] }
    - { name: batch-jobs, keyHash: "sha256:${createHash('sha256').update(BATCH_KEY).digest('hex')}" }
providers:
  m: { type: mock }
models:
  chat: { providers: [{ provider: m, model: mock-chat }] }
  secret-model: { providers: [{ provider: m, model: mock-chat }] }
`;

describe('named keys', () => {
  let g: Gw;
  before(async () => {
    g = await startKeyedGateway(CONFIG, { env: { SEARCH_KEY } });
  });
  after(() => g.close());

  test('key, keyHash and the old apiKeys list all authenticate; a wrong key does not', async () => {
    for (const key of [SEARCH_KEY, BATCH_KEY, OLD_KEY]) {
      const r = await call(g.url, 'POST', '/v1/chat/completions', { key, body: { model: 'chat', messages: [{ role: 'user', content: 'hi' }] } });
      assert.equal(r.status, 200, key);
    }
    const wrong = await call(g.url, 'POST', '/v1/chat/completions', { key: `${SEARCH_KEY}x`, body: { model: 'chat', messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error.code, 'invalid_api_key');
    // The hash is not a key: presenting the configured digest itself is refused.
    const hash = await call(g.url, 'GET', '/v1/models', { key: createHash('sha256').update(BATCH_KEY).digest('hex') });
    assert.equal(hash.status, 401);
  });

  test('a model outside the key\'s list is 404 model_not_found, exactly as a model that does not exist', async () => {
    const body = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi' }] });
    const hidden = await call(g.url, 'POST', '/v1/chat/completions', { key: SEARCH_KEY, body: body('secret-model') });
    const missing = await call(g.url, 'POST', '/v1/chat/completions', { key: SEARCH_KEY, body: body('no-such-model') });
    assert.equal(hidden.status, 404);
    assert.equal(hidden.json.error.code, 'model_not_found');
    assert.deepEqual(hidden.json.error.message.replace('secret-model', 'X'), missing.json.error.message.replace('no-such-model', 'X'));
    assert.equal((await call(g.url, 'GET', '/v1/models/secret-model', { key: SEARCH_KEY })).status, 404);
    assert.equal((await call(g.url, 'GET', '/v1/models/chat', { key: SEARCH_KEY })).status, 200);
    // Other keys still see it.
    assert.equal((await call(g.url, 'POST', '/v1/chat/completions', { key: BATCH_KEY, body: body('secret-model') })).status, 200);
  });

  test('/v1/models lists only the key\'s models (OpenAI SDK)', async () => {
    const ids = async (key: string) => (await new OpenAI({ baseURL: `${g.url}/v1`, apiKey: key, maxRetries: 0 }).models.list()).data.map((m) => m.id).sort();
    assert.deepEqual(await ids(SEARCH_KEY), ['chat']);
    assert.deepEqual(await ids(BATCH_KEY), ['chat', 'secret-model']);
    assert.deepEqual(await ids(OLD_KEY), ['chat', 'secret-model']);
  });

  test('the log line names the key; no key ever appears in logs', async () => {
    const before = g.logs.length;
    await call(g.url, 'POST', '/v1/chat/completions', { key: BATCH_KEY, body: { model: 'chat', messages: [{ role: 'user', content: 'log me' }] } });
    await call(g.url, 'POST', '/v1/chat/completions', { key: SEARCH_KEY, body: { model: 'secret-model', messages: [{ role: 'user', content: 'no' }] } });
    await call(g.url, 'POST', '/v1/chat/completions', { key: OLD_KEY, body: { model: 'chat', messages: [{ role: 'user', content: 'old' }] } });
    const lines = g.logs.slice(before).map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l.msg?.startsWith('chat completion'));
    assert.deepEqual(lines.map((l) => [l.key, l.status]), [['batch-jobs', 200], ['search-team', 404], [null, 200]]);
    const all = g.logs.join('');
    for (const k of [SEARCH_KEY, BATCH_KEY, OLD_KEY, ADMIN]) assert.ok(!all.includes(k), 'a key leaked into the logs');
  });
});
