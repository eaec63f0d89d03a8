import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { call, startGateway, type RunningGateway } from './helpers.js';

describe('GET /v1/models/{id} with a slash in the id', () => {
  let g: RunningGateway;
  before(async () => {
    g = await startGateway(`providers: { m: { type: mock } }
models:
  deepseek-ai/DeepSeek-V3: { providers: [{ provider: m }] }
  plain: { providers: [{ provider: m }] }
`);
  });
  after(() => g.close());

  test('an unencoded slash (curl) answered 404 unknown_url: the model, as with %2F', async () => {
    for (const path of ['/v1/models/deepseek-ai/DeepSeek-V3', '/v1/models/deepseek-ai%2FDeepSeek-V3']) {
      const r = await call(g.url, 'GET', path);
      assert.equal(r.status, 200, path);
      assert.equal(r.json.id, 'deepseek-ai/DeepSeek-V3');
      assert.equal(r.json.object, 'model');
    }
    assert.equal((await call(g.url, 'GET', '/v1/models/plain')).json.id, 'plain');
    const missing = await call(g.url, 'GET', '/v1/models/deepseek-ai/Nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, 'model_not_found');
  });

  test('the OpenAI SDK retrieves it', async () => {
    const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const m = await client.models.retrieve('deepseek-ai/DeepSeek-V3');
    assert.equal(m.id, 'deepseek-ai/DeepSeek-V3');
  });
});
