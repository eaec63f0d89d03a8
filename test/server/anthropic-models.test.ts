import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { startGateway, type RunningGateway } from './helpers.js';

const KEY = 'sk-models-key-0123456789';

/**
 * Regression: `GET /v1/models` answered Anthropic's SDK (`models.list()`, with `x-api-key` as older
 * SDKs send it) 401 in OpenAI's shape, and items without `type`, `display_name` and `created_at`.
 */
describe('GET /v1/models for Anthropic clients', () => {
  let g: RunningGateway;
  before(async () => {
    g = await startGateway(`auth: { apiKeys: ["\${KEY}"] }\nproviders:\n  m: { type: mock }\nmodels:\n  chat: { providers: [{ provider: m }] }\n  other: { providers: [{ provider: m }] }\n`, { KEY });
  });
  after(() => g.close());

  test('the SDK lists and retrieves models in its own shape', async () => {
    const client = new Anthropic({ baseURL: g.url, apiKey: KEY, maxRetries: 0 });
    const ids: string[] = [];
    for await (const m of client.models.list()) {
      assert.equal(m.type, 'model');
      assert.equal(m.display_name, m.id);
      assert.ok(Date.parse(m.created_at) > 0, m.created_at);
      ids.push(m.id);
    }
    assert.deepEqual(ids, ['chat', 'other']);
    const one = await client.models.retrieve('other');
    assert.equal(one.id, 'other');
    assert.equal(one.type, 'model');
    await assert.rejects(client.models.retrieve('nope'), (err: unknown) => err instanceof Anthropic.NotFoundError && (err.error as { type?: string })?.type === 'error');
  });

  test('regression: models.list ignored limit, after_id and before_id (one page of everything, has_more false): the SDK pages through them', async () => {
    const client = new Anthropic({ baseURL: g.url, apiKey: KEY, maxRetries: 0 });
    const first = await client.models.list({ limit: 1 });
    assert.deepEqual(first.data.map((m) => m.id), ['chat']);
    assert.equal(first.has_more, true);
    const ids: string[] = [];
    for await (const m of client.models.list({ limit: 1 })) ids.push(m.id);
    assert.deepEqual(ids, ['chat', 'other'], 'the SDK follows has_more and last_id');
    const page = async (q: string) => (await (await fetch(`${g.url}/v1/models?${q}`, { headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' } })).json()) as { data: Array<{ id: string }>; has_more: boolean };
    assert.deepEqual((await page('after_id=chat')).data.map((m) => m.id), ['other']);
    assert.deepEqual((await page('before_id=other')).data.map((m) => m.id), ['chat']);
    assert.deepEqual((await page('after_id=other')).data, []);
    const bad = await fetch(`${g.url}/v1/models?limit=0`, { headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' } });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
  });

  test('x-api-key is accepted; a missing or wrong key is 401 in Anthropic\'s shape with request-id', async () => {
    const ok = await fetch(`${g.url}/v1/models`, { headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' } });
    assert.equal(ok.status, 200);
    const body = (await ok.json()) as { data: Array<{ id: string }>; has_more: boolean; first_id: string; last_id: string };
    assert.deepEqual([body.has_more, body.first_id, body.last_id], [false, 'chat', 'other']);
    for (const headers of [{ 'anthropic-version': '2023-06-01' }, { 'anthropic-version': '2023-06-01', 'x-api-key': 'wrong' }] as Array<Record<string, string>>) {
      const r = await fetch(`${g.url}/v1/models`, { headers });
      assert.equal(r.status, 401);
      const e = (await r.json()) as { type: string; error: { type: string } };
      assert.deepEqual([e.type, e.error.type], ['error', 'authentication_error']);
      assert.ok(r.headers.get('request-id'));
    }
  });

  test('OpenAI clients keep OpenAI\'s shapes and errors', async () => {
    const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const list = await client.models.list();
    assert.deepEqual(Object.keys(list.data[0]!).sort(), ['created', 'id', 'object', 'owned_by']);
    await assert.rejects(new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'wrong', maxRetries: 0 }).models.list(), OpenAI.AuthenticationError);
    await assert.rejects(client.models.retrieve('nope'), (err: unknown) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found');
    const noKey = await fetch(`${g.url}/v1/models`, { headers: { 'x-api-key': KEY } });
    assert.equal(noKey.status, 401, 'x-api-key alone is not an OpenAI key');
  });
});
