import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { call, startGateway, type RunningGateway } from './helpers.js';

const LIST_KEY = 'sk-list-key-0123456789';
const NAMED_KEY = 'sk-named-key-abcdef9876';
const ADMIN = 'sk-admin-key-xyz-42';

const CONFIG = `auth:
  apiKeys: ["\${LIST_KEY}"]
  adminKey: "\${ADMIN}"
  keys:
    - { name: team-a, key: "\${NAMED_KEY}" }
providers:
  m: { type: mock }
models:
  chat: { providers: [{ provider: m }] }
`;

const ADMIN_ENDPOINTS = [
  ['POST', '/v1/pool/cleanup'],
  ['POST', '/v1/pool/health-check'],
  ['POST', '/v1/admin/reload'],
  ['GET', '/v1/admin/config'],
] as const;

describe('regression: a valid client key on an admin endpoint answered 401 invalid_api_key (the OpenAI SDK raised AuthenticationError for a working key)', () => {
  let g: RunningGateway;
  before(async () => {
    g = await startGateway(CONFIG, { LIST_KEY, NAMED_KEY, ADMIN });
  });
  after(() => g.close());

  test('a client key (auth.apiKeys or auth.keys) gets 403 permission_error admin_key_required, naming auth.adminKey and never the key', async () => {
    for (const [method, path] of ADMIN_ENDPOINTS) {
      for (const key of [LIST_KEY, NAMED_KEY]) {
        const r = await call(g.url, method, path, { key });
        assert.equal(r.status, 403, `${method} ${path}`);
        assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'param', 'type']);
        assert.equal(r.json.error.type, 'permission_error');
        assert.equal(r.json.error.code, 'admin_key_required');
        assert.equal(r.json.error.param, null);
        assert.match(r.json.error.message, /admin key \(auth\.adminKey\)/);
        assert.ok(!r.text.includes(key), 'the key is echoed');
        assert.ok(r.headers.get('x-request-id'));
      }
    }
    const all = g.logs.join('');
    for (const k of [LIST_KEY, NAMED_KEY, ADMIN]) assert.ok(!all.includes(k), 'a key leaked into the logs');
  });

  test('a wrong key still gets 401 invalid_api_key; no key still 401 missing_api_key; the admin key passes', async () => {
    for (const [method, path] of ADMIN_ENDPOINTS) {
      const wrong = await call(g.url, method, path, { key: `${LIST_KEY}x` });
      assert.equal(wrong.status, 401, `${method} ${path}`);
      assert.equal(wrong.json.error.code, 'invalid_api_key');
      assert.equal(wrong.json.error.type, 'invalid_request_error');
      const none = await call(g.url, method, path);
      assert.equal(none.status, 401, `${method} ${path}`);
      assert.equal(none.json.error.code, 'missing_api_key');
      const admin = await call(g.url, method, path, { key: ADMIN });
      // The reload has no config file here (400 reload failed): what matters is that the admin rule let it through.
      assert.ok(admin.status !== 401 && admin.status !== 403, `${method} ${path}: ${admin.status}`);
    }
  });

  test('the OpenAI SDK: PermissionDeniedError for a client key (not AuthenticationError), AuthenticationError for a wrong one', async () => {
    for (const key of [LIST_KEY, NAMED_KEY]) {
      const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: key, maxRetries: 0 });
      // The key works on the API...
      assert.equal((await client.models.list()).data[0]?.id, 'chat');
      // ...and is refused on the admin endpoints as a permission, not as a bad key.
      for (const [method, path] of ADMIN_ENDPOINTS) {
        const rel = path.slice('/v1'.length);
        await assert.rejects(method === 'POST' ? client.post(rel) : client.get(rel), (err: unknown) => {
          assert.ok(err instanceof OpenAI.PermissionDeniedError, `${method} ${path}: ${String(err)}`);
          assert.ok(!(err instanceof OpenAI.AuthenticationError));
          assert.equal(err.status, 403);
          assert.equal(err.type, 'permission_error');
          assert.equal(err.code, 'admin_key_required');
          return true;
        });
      }
    }
    const wrong = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'not-a-key', maxRetries: 0 });
    await assert.rejects(wrong.post('/pool/cleanup'), OpenAI.AuthenticationError);
    const admin = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: ADMIN, maxRetries: 0 });
    assert.equal(((await admin.post('/pool/cleanup')) as { success: boolean }).success, true);
  });
});

describe('regression: the admin key on a model endpoint answered 401 "Incorrect API key provided." (a valid key, not a client key)', () => {
  let g: RunningGateway;
  before(async () => {
    g = await startGateway(CONFIG, { LIST_KEY, NAMED_KEY, ADMIN });
  });
  after(() => g.close());

  test('403 permission_error client_key_required on the OpenAI routes; the SDK raises PermissionDeniedError; Anthropic\'s shape on /v1/messages', async () => {
    const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: ADMIN, maxRetries: 0 });
    for (const call_ of [() => client.models.list(), () => client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })]) {
      await assert.rejects(call_(), (err: unknown) => {
        assert.ok(err instanceof OpenAI.PermissionDeniedError, String(err));
        assert.equal(err.code, 'client_key_required');
        assert.match(err.message, /admin key \(auth\.adminKey\).*client API key/);
        return true;
      });
    }
    const m = await call(g.url, 'POST', '/v1/messages', { key: ADMIN, body: { model: 'chat', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(m.status, 403);
    assert.equal(m.json.type, 'error');
    assert.equal(m.json.error.type, 'permission_error');
    assert.ok(!g.logs.join('').includes(ADMIN), 'the admin key leaked into the logs');
  });
});

describe('an admin key with no client keys (open API)', () => {
  test('any key but the admin key is simply wrong: 401 invalid_api_key', async () => {
    const g = await startGateway(`auth: { adminKey: "\${ADMIN}" }\nproviders:\n  m: { type: mock }\nmodels:\n  chat: { providers: [{ provider: m }] }\n`, { ADMIN });
    try {
      const r = await call(g.url, 'POST', '/v1/pool/cleanup', { key: 'anything' });
      assert.equal(r.status, 401);
      assert.equal(r.json.error.code, 'invalid_api_key');
    } finally {
      await g.close();
    }
  });
});
