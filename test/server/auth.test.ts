import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { parseConfig } from '../../src/config/index.js';
import { buildGateway, createLogger, keyMatcher } from '../../src/server/index.js';
import { call, startGateway, type RunningGateway } from './helpers.js';

const MODELS = `providers:
  m: { type: mock }
models:
  chat: { providers: [{ provider: m }] }
`;
const CHAT = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };

describe('auth with api keys and an admin key', () => {
  let g: RunningGateway;
  before(async () => {
    g = await startGateway(`auth: { apiKeys: ["\${K1}", key-two], adminKey: "\${ADMIN}" }\n${MODELS}`, { K1: 'key-one', ADMIN: 'admin-key' });
  });
  after(() => g.close());

  test('chat and models need a valid bearer key', async () => {
    for (const [path, method, body] of [['/v1/chat/completions', 'POST', CHAT], ['/v1/models', 'GET', undefined]] as const) {
      const none = await call(g.url, method, path, { body });
      assert.equal(none.status, 401);
      assert.equal(none.json.error.code, 'missing_api_key');
      assert.equal(none.json.error.message, 'You didn\'t provide an API key. Send it as "Authorization: Bearer <key>".');
      const wrong = await call(g.url, method, path, { body, key: 'key-on' });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json.error.code, 'invalid_api_key');
      assert.equal((await call(g.url, method, path, { body, key: 'key-one' })).status, 200);
      assert.equal((await call(g.url, method, path, { body, key: 'key-two' })).status, 200);
    }
  });

  test('the OpenAI SDK: AuthenticationError without the key, success with it', async () => {
    const bad = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'nope', maxRetries: 0 });
    await assert.rejects(bad.models.list(), OpenAI.AuthenticationError);
    const good = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'key-two', maxRetries: 0 });
    const c = await good.chat.completions.create(CHAT as never);
    assert.equal(c.object, 'chat.completion');
  });

  test('the POST pool endpoints need the admin key; API keys are not enough (403: a valid key without the right, not a wrong one)', async () => {
    for (const path of ['/v1/pool/cleanup', '/v1/pool/health-check']) {
      assert.equal((await call(g.url, 'POST', path)).status, 401);
      assert.equal((await call(g.url, 'POST', path, { key: 'key-on' })).status, 401);
      const client = await call(g.url, 'POST', path, { key: 'key-one' });
      assert.equal(client.status, 403);
      assert.equal(client.json.error.code, 'admin_key_required');
      const ok = await call(g.url, 'POST', path, { key: 'admin-key' });
      assert.equal(ok.status, 200);
      assert.equal(ok.json.success, true);
    }
  });

  test('the GET pool endpoints take an API key or the admin key', async () => {
    const refused = await call(g.url, 'GET', '/v1/pool/status');
    assert.equal(refused.status, 401);
    // The pool endpoints' envelope, with the usual error object beside it.
    assert.equal(refused.json.success, false);
    assert.equal(refused.json.data, null);
    assert.match(refused.json.message, /^获取适配器池状态失败: /);
    assert.equal(typeof refused.json.error.code, 'string');
    assert.equal((await call(g.url, 'GET', '/v1/pool/status', { key: 'key-one' })).status, 200);
    assert.equal((await call(g.url, 'GET', '/v1/pool/stats', { key: 'admin-key' })).status, 200);
  });

  test('health and readiness stay open', async () => {
    assert.equal((await call(g.url, 'GET', '/health')).status, 200);
    assert.equal((await call(g.url, 'GET', '/ready')).status, 200);
  });
});

describe('no admin key: the loopback rule', () => {
  test('bound to loopback: the POST pool endpoints are open', async () => {
    const g = await startGateway(MODELS);
    try {
      assert.equal((await call(g.url, 'POST', '/v1/pool/cleanup')).status, 200);
      assert.equal((await call(g.url, 'POST', '/v1/pool/health-check')).status, 200);
    } finally {
      await g.close();
    }
  });

  test('bound to a public address: refused with 403 (checked with inject, nothing is bound)', async () => {
    const config = parseConfig(`server: { host: 0.0.0.0 }\n${MODELS}`, { env: {} });
    const gw = await buildGateway(config, { logger: createLogger('silent') });
    try {
      for (const url of ['/v1/pool/cleanup', '/v1/pool/health-check']) {
        const r = await gw.app.inject({ method: 'POST', url });
        assert.equal(r.statusCode, 403);
        assert.equal(r.json().error.code, 'admin_disabled');
        assert.equal(r.json().error.type, 'permission_error');
      }
      assert.equal((await gw.app.inject({ method: 'GET', url: '/v1/pool/status' })).statusCode, 200);
    } finally {
      await gw.close();
    }
  });
});

test('keyMatcher: exact match only', () => {
  const m = keyMatcher(['alpha', 'beta']);
  assert.equal(m('alpha'), true);
  assert.equal(m('beta'), true);
  assert.equal(m('alph'), false);
  assert.equal(m('alphaa'), false);
  assert.equal(m(''), false);
  assert.equal(m(undefined), false);
  assert.equal(keyMatcher([])('alpha'), false);
});
