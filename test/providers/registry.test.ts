import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AZURE_DEFAULT_API_VERSION, createProviderAdapter, DEFAULT_BASE_URLS, PROVIDER_TYPES, ProviderConfigError, type ProviderError } from '../../src/providers/index.js';
import { completion, sendJson, startUpstream } from './helpers.js';

describe('registry', () => {
  it('knows every provider type of the issue', () => {
    assert.deepEqual([...PROVIDER_TYPES].sort(), [
      'anthropic', 'azure-openai', 'dashscope', 'deepseek', 'gemini', 'mock', 'moonshot', 'ollama', 'openai', 'openai-compatible', 'siliconflow', 'vllm', 'volcengine', 'zhipu',
    ]);
  });

  it('has the default base URLs; local ones stay on the machine', () => {
    assert.equal(DEFAULT_BASE_URLS.volcengine, 'https://ark.cn-beijing.volces.com/api/v3');
    assert.equal(DEFAULT_BASE_URLS.openai, 'https://api.openai.com/v1');
    assert.equal(DEFAULT_BASE_URLS.deepseek, 'https://api.deepseek.com');
    assert.equal(DEFAULT_BASE_URLS.dashscope, 'https://dashscope.aliyuncs.com/compatible-mode/v1');
    assert.equal(DEFAULT_BASE_URLS.moonshot, 'https://api.moonshot.cn/v1');
    assert.equal(DEFAULT_BASE_URLS.zhipu, 'https://open.bigmodel.cn/api/paas/v4');
    assert.equal(DEFAULT_BASE_URLS.siliconflow, 'https://api.siliconflow.cn/v1');
    assert.equal(DEFAULT_BASE_URLS.gemini, 'https://generativelanguage.googleapis.com/v1beta/openai');
    assert.equal(DEFAULT_BASE_URLS.anthropic, 'https://api.anthropic.com/v1');
    assert.match(DEFAULT_BASE_URLS.ollama!, /^http:\/\/127\.0\.0\.1:/);
    assert.match(DEFAULT_BASE_URLS.vllm!, /^http:\/\/127\.0\.0\.1:/);
    assert.equal(DEFAULT_BASE_URLS.mock, undefined);
    assert.equal(DEFAULT_BASE_URLS['azure-openai'], undefined);
  });

  it('builds adapters that carry provider name, type and model (no request is sent)', async () => {
    const a = createProviderAdapter({ name: 'ark', type: 'volcengine', apiKey: 'k' }, 'ep-20250101-abcd');
    assert.equal(a.provider, 'ark');
    assert.equal(a.type, 'volcengine');
    assert.equal(a.model, 'ep-20250101-abcd');
    await a.close();
    const local = createProviderAdapter({ name: 'local', type: 'ollama' }, 'qwen3:8b');
    await local.close();
  });

  it('refuses an unknown type and missing required fields, clearly', () => {
    assert.throws(() => createProviderAdapter({ name: 'x', type: 'nope' }, 'm'), (e: Error) => e instanceof ProviderConfigError && /unknown type "nope"/.test(e.message) && /volcengine/.test(e.message));
    assert.throws(() => createProviderAdapter({ name: 'x', type: 'openai' }, 'm'), /provider "x" \(type openai\) needs "apiKey"/);
    assert.throws(() => createProviderAdapter({ name: 'x', type: 'openai-compatible' }, 'm'), /needs "baseUrl"/);
    assert.throws(() => createProviderAdapter({ name: 'az', type: 'azure-openai', baseUrl: 'https://r.openai.azure.com', apiKey: 'k' }, 'm'), /needs "deployment"/);
    assert.throws(() => createProviderAdapter({ name: 'az', type: 'azure-openai', deployment: 'd', apiKey: 'k' }, 'm'), /needs "baseUrl"/);
    assert.throws(() => createProviderAdapter({ name: 'c', type: 'anthropic' }, 'm'), /needs "apiKey"/);
    assert.throws(() => createProviderAdapter({ name: 'x', type: 'openai-compatible', baseUrl: 'ftp://h' }, 'm'), /http\(s\)/);
    assert.throws(() => createProviderAdapter({ name: 'x', type: 'mock' }, ''), /no model/);
  });
});

describe('azure-openai', () => {
  it('calls the deployment URL with api-version and the api-key header', async () => {
    const up = await startUpstream((req, res) => {
      if (req.method === 'GET') return sendJson(res, 200, { data: [{ id: 'gpt-4o', object: 'model', created: 1 }] });
      sendJson(res, 200, completion('hi'));
    });
    const a = createProviderAdapter({ name: 'az', type: 'azure-openai', baseUrl: `${up.url}/`, apiKey: 'azure-key-123', deployment: 'my gpt4o', apiVersion: '2025-01-01-preview' }, 'gpt-4o');
    const b = createProviderAdapter({ name: 'az', type: 'azure-openai', baseUrl: up.url, apiKey: 'azure-key-123', deployment: 'dep' }, 'gpt-4o');
    try {
      await a.chatCompletion({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
      const got = up.requests.at(-1)!;
      assert.equal(got.url, '/openai/deployments/my%20gpt4o/chat/completions?api-version=2025-01-01-preview');
      assert.equal(got.headers['api-key'], 'azure-key-123');
      assert.equal(got.headers.authorization, undefined);
      assert.equal(await a.healthCheck(), true);
      assert.equal(up.requests.at(-1)!.url, '/openai/models?api-version=2025-01-01-preview');
      await b.chatCompletion({ model: 'x', messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(up.requests.at(-1)!.url, `/openai/deployments/dep/chat/completions?api-version=${AZURE_DEFAULT_API_VERSION}`);
    } finally {
      await a.close();
      await b.close();
      await up.close();
    }
  });

  it('reads x-ms-retry-after-ms on a 429', async () => {
    const up = await startUpstream((_req, res) => sendJson(res, 429, { error: { code: '429', message: 'exceeded call rate limit' } }, { 'x-ms-retry-after-ms': '1200' }));
    const a = createProviderAdapter({ name: 'az', type: 'azure-openai', baseUrl: up.url, apiKey: 'k', deployment: 'dep' }, 'gpt-4o');
    try {
      await assert.rejects(a.chatCompletion({ model: 'x', messages: [] }), (e: ProviderError) => e.errorClass === 'rate_limited' && e.retryAfterMs === 1200);
    } finally {
      await a.close();
      await up.close();
    }
  });
});
