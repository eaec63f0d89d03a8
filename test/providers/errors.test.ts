import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProviderAdapter, normalizeProviderError, parseRetryAfter, ProviderError, type ErrorClass } from '../../src/providers/index.js';
import { sendJson, startUpstream } from './helpers.js';

interface Case {
  name: string;
  type: string;
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  errorClass: ErrorClass;
  code?: string | number | null;
  message?: string;
  retryAfterMs?: number;
}

/** Every error shape from reference/providers.md, with the class the router must see. */
const CASES: Case[] = [
  { name: 'OpenAI 401 invalid key', type: 'openai', status: 401, body: { error: { message: 'Incorrect API key', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }, errorClass: 'auth', code: 'invalid_api_key' },
  { name: 'OpenAI 429 rate limit with retry-after-ms', type: 'openai', status: 429, body: { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } }, headers: { 'retry-after-ms': '1500' }, errorClass: 'rate_limited', retryAfterMs: 1500 },
  { name: 'OpenAI 429 insufficient_quota', type: 'openai', status: 429, body: { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } }, errorClass: 'quota' },
  { name: 'OpenAI 400 bad request', type: 'openai', status: 400, body: { error: { message: "Unrecognized request argument supplied: foo", type: 'invalid_request_error', param: 'foo', code: null } }, errorClass: 'client_error' },
  { name: 'OpenAI 403 unsupported country', type: 'openai', status: 403, body: { error: { message: 'Country, region, or territory not supported', type: 'request_forbidden', code: 'unsupported_country_region_territory' } }, errorClass: 'auth' },
  { name: 'OpenAI 500', type: 'openai', status: 500, body: { error: { message: 'The server had an error', type: 'server_error', code: null } }, errorClass: 'server_error' },
  { name: 'OpenAI 503 overloaded with retry-after seconds', type: 'openai', status: 503, body: { error: { message: 'overloaded', type: 'server_error' } }, headers: { 'retry-after': '2' }, errorClass: 'server_error', retryAfterMs: 2000 },
  { name: 'Ark 404 InvalidEndpointOrModel.NotFound', type: 'volcengine', status: 404, body: { error: { code: 'InvalidEndpointOrModel.NotFound', message: 'The model or endpoint doubao-x does not exist. Request id: 0217', param: '', type: 'NotFound' } }, errorClass: 'not_found', code: 'InvalidEndpointOrModel.NotFound' },
  { name: 'Ark 400 InvalidEndpoint.ClosedEndpoint', type: 'volcengine', status: 400, body: { error: { code: 'InvalidEndpoint.ClosedEndpoint', message: 'endpoint closed', param: '', type: 'BadRequest' } }, errorClass: 'temporarily_unavailable' },
  { name: 'Ark 400 InputTextRiskDetection', type: 'volcengine', status: 400, body: { error: { code: 'InputTextRiskDetection', message: 'risk', param: '', type: 'BadRequest' } }, errorClass: 'client_error' },
  { name: 'Ark 403 AccountOverdueError', type: 'volcengine', status: 403, body: { error: { code: 'AccountOverdueError', message: 'account overdue', param: '', type: 'Forbidden' } }, errorClass: 'quota' },
  { name: 'Ark 401 AuthenticationError', type: 'volcengine', status: 401, body: { error: { code: 'AuthenticationError', message: 'the API key is invalid', param: '', type: 'Unauthorized' } }, errorClass: 'auth' },
  { name: 'Ark 429 EndpointRPMExceeded', type: 'volcengine', status: 429, body: { error: { code: 'RateLimitExceeded.EndpointRPMExceeded', message: 'rpm', param: '', type: 'TooManyRequests' } }, errorClass: 'rate_limited' },
  { name: 'Zhipu 429 code 1113 arrears', type: 'zhipu', status: 429, body: { error: { code: '1113', message: '您的账户已欠费，请充值后重试。' } }, errorClass: 'quota', code: '1113' },
  { name: 'Zhipu 429 code 1302 rate limit', type: 'zhipu', status: 429, body: { error: { code: '1302', message: '您当前使用该API的并发数过高' } }, errorClass: 'rate_limited' },
  { name: 'Zhipu 429 code 1305 overload', type: 'zhipu', status: 429, body: { error: { code: '1305', message: '当前API请求过多，请稍后重试。' } }, errorClass: 'temporarily_unavailable' },
  { name: 'Zhipu 400 code 1301 content filter', type: 'zhipu', status: 400, body: { error: { code: '1301', message: '系统检测到输入或生成内容可能包含不安全或敏感内容' } }, errorClass: 'client_error' },
  { name: 'Zhipu 400 code 1211 no such model', type: 'zhipu', status: 400, body: { error: { code: '1211', message: '模型不存在' } }, errorClass: 'not_found' },
  { name: 'SiliconFlow {code,message,data} 400', type: 'siliconflow', status: 400, body: { code: 20012, message: 'Model does not exist. Please check it carefully.', data: null }, errorClass: 'not_found', code: 20012, message: 'Model does not exist. Please check it carefully.' },
  { name: 'SiliconFlow 403 real-name check', type: 'siliconflow', status: 403, body: { code: 30011, message: 'real-name verification required', data: null }, errorClass: 'auth' },
  { name: 'SiliconFlow 503 busy', type: 'siliconflow', status: 503, body: { code: 50505, message: 'Model service overloaded. Please try again later.', data: null }, errorClass: 'server_error' },
  { name: 'Gemini array body 400', type: 'gemini', status: 400, body: [{ error: { code: 400, message: 'Invalid JSON payload received. Unknown name "foo"', status: 'INVALID_ARGUMENT' } }], errorClass: 'client_error', message: 'Invalid JSON payload received. Unknown name "foo"' },
  { name: 'Gemini array body 429 RESOURCE_EXHAUSTED', type: 'gemini', status: 429, body: [{ error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' } }], errorClass: 'rate_limited' },
  { name: 'DeepSeek 402 insufficient balance', type: 'deepseek', status: 402, body: { error: { message: 'Insufficient Balance', type: 'unknown_error', param: null, code: 'invalid_request_error' } }, errorClass: 'quota' },
  { name: 'DeepSeek 422 invalid parameters', type: 'deepseek', status: 422, body: { error: { message: 'Invalid parameters', type: 'invalid_request_error' } }, errorClass: 'client_error' },
  { name: 'DashScope Arrearage', type: 'dashscope', status: 400, body: { error: { code: 'Arrearage', message: 'Access denied, please make sure your account is in good standing.', type: 'Arrearage' } }, errorClass: 'quota' },
  { name: 'DashScope data_inspection_failed', type: 'dashscope', status: 400, body: { error: { code: 'data_inspection_failed', message: 'Input data may contain inappropriate content.', type: 'data_inspection_failed' } }, errorClass: 'client_error' },
  { name: 'Moonshot content_filter', type: 'moonshot', status: 400, body: { error: { message: 'The request was rejected because it was considered high risk', type: 'content_filter' } }, errorClass: 'client_error' },
  { name: 'Moonshot invalid_authentication_error', type: 'moonshot', status: 401, body: { error: { message: 'Invalid Authentication', type: 'invalid_authentication_error' } }, errorClass: 'auth' },
  { name: 'Anthropic 529 overloaded', type: 'anthropic', status: 529, body: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' }, request_id: 'req_1' }, errorClass: 'server_error', message: 'Overloaded' },
  { name: 'Anthropic 413 request_too_large', type: 'anthropic', status: 413, body: { type: 'error', error: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' } }, errorClass: 'client_error' },
  { name: 'Anthropic 429 with retry-after', type: 'anthropic', status: 429, body: { type: 'error', error: { type: 'rate_limit_error', message: 'Number of requests has exceeded your rate limit' } }, headers: { 'retry-after': '7' }, errorClass: 'rate_limited', retryAfterMs: 7000 },
  { name: 'Azure 404 DeploymentNotFound', type: 'azure-openai', status: 404, body: { error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist.' } }, errorClass: 'not_found' },
  { name: 'Azure 429 with x-ms-retry-after-ms', type: 'azure-openai', status: 429, body: { error: { code: '429', message: 'Requests to the ChatCompletions_Create Operation have exceeded call rate limit' } }, headers: { 'x-ms-retry-after-ms': '250' }, errorClass: 'rate_limited', retryAfterMs: 250 },
  { name: 'Ollama {"error": string} 404', type: 'ollama', status: 404, body: { error: 'model "llama9" not found, try pulling it first' }, errorClass: 'not_found', message: 'model "llama9" not found, try pulling it first' },
  { name: 'vLLM FastAPI detail 422', type: 'vllm', status: 422, body: { detail: [{ loc: ['body', 'messages'], msg: 'field required', type: 'missing' }] }, errorClass: 'client_error' },
  // Found by a provider audit: shapes the classes above missed.
  { name: 'Zhipu 429 code 1312 overload', type: 'zhipu', status: 429, body: { error: { code: '1312', message: '模型当前访问量过大，请稍后再试' } }, errorClass: 'temporarily_unavailable' },
  { name: 'Gemini 400 API key not valid', type: 'gemini', status: 400, body: [{ error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT' } }], errorClass: 'auth' },
  { name: 'Anthropic 400 credit balance too low', type: 'anthropic', status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.' } }, errorClass: 'quota' },
  { name: 'Moonshot 429 exceeded_current_quota_error', type: 'moonshot', status: 429, body: { error: { message: 'Your account is suspended, please check your plan and billing details', type: 'exceeded_current_quota_error' } }, errorClass: 'quota' },
  { name: 'HTML from a proxy, 502', type: 'openai', status: 502, body: '<html><body>Bad Gateway</body></html>', errorClass: 'server_error' },
  { name: '408 request timeout', type: 'openai', status: 408, body: '', errorClass: 'timeout' },
];

describe('normalizeProviderError: every shape', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const text = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
      const e = normalizeProviderError(c.type, c.status, text, c.headers ?? {});
      assert.ok(e instanceof ProviderError);
      assert.equal(e.errorClass, c.errorClass);
      assert.equal(e.status, c.status);
      assert.equal(e.provider, c.type);
      assert.equal(typeof e.body.error.message, 'string');
      assert.ok(e.body.error.message.length > 0);
      assert.equal(typeof e.body.error.type, 'string');
      if (c.code !== undefined) assert.equal(e.body.error.code, c.code);
      if (c.message !== undefined) assert.equal(e.body.error.message, c.message);
      assert.equal(e.retryAfterMs, c.retryAfterMs);
    });
  }

  it('actions follow the classes: unhealthy for auth/quota, retry for 429/5xx, never for client errors', () => {
    const n = (status: number, body: unknown) => normalizeProviderError('p', status, JSON.stringify(body), {});
    assert.deepEqual(n(401, {}).action, { retry: false, failover: true, cooldown: true, unhealthy: true });
    assert.equal(n(402, {}).action.unhealthy, true);
    assert.equal(n(429, {}).action.retry, true);
    assert.equal(n(529, {}).action.retry, true);
    assert.deepEqual(n(400, {}).action, { retry: false, failover: false, cooldown: false, unhealthy: false });
    assert.equal(n(422, {}).action.retry, false);
    assert.equal(n(413, {}).action.failover, false);
  });
});

describe('parseRetryAfter', () => {
  it('reads ms headers first, then seconds, then an HTTP date', () => {
    assert.equal(parseRetryAfter({ 'retry-after-ms': '120.4', 'retry-after': '9' }), 120);
    assert.equal(parseRetryAfter({ 'x-ms-retry-after-ms': '80' }), 80);
    assert.equal(parseRetryAfter({ 'retry-after': '3' }), 3000);
    const now = Date.parse('2025-01-01T00:00:00Z');
    assert.equal(parseRetryAfter({ 'retry-after': 'Wed, 01 Jan 2025 00:00:05 GMT' }, now), 5000);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': '1' })), 1000);
    assert.equal(parseRetryAfter({ 'retry-after': 'soon' }), undefined);
    assert.equal(parseRetryAfter({ 'retry-after': '-1' }), undefined);
    assert.equal(parseRetryAfter({}), undefined);
  });
});

describe('error shapes over real HTTP, per preset', () => {
  it('each upstream error reaches the caller normalized, with status, class and retry hint', async () => {
    let current: Case = CASES[0]!;
    const up = await startUpstream((_req, res) => {
      if (typeof current.body === 'string') {
        res.writeHead(current.status, { 'content-type': 'text/html', ...current.headers });
        res.end(current.body);
      } else {
        sendJson(res, current.status, current.body, current.headers);
      }
    });
    try {
      for (const c of CASES.filter((x) => x.type !== 'anthropic' && x.type !== 'azure-openai')) {
        current = c;
        const adapter = createProviderAdapter({ name: c.type, type: c.type, baseUrl: up.url, apiKey: 'k-123456789' }, 'm');
        try {
          await assert.rejects(adapter.chatCompletion({ model: 'm', messages: [{ role: 'user', content: 'x' }] }), (e: ProviderError) => {
            assert.equal(e.errorClass, c.errorClass, c.name);
            assert.equal(e.status, c.status, c.name);
            assert.equal(e.retryAfterMs, c.retryAfterMs, c.name);
            return true;
          });
          // the same before a stream opens: rejected, so the router can still fail over
          await assert.rejects(adapter.chatCompletionStream({ model: 'm', messages: [{ role: 'user', content: 'x' }] }), (e: ProviderError) => e.errorClass === c.errorClass);
          assert.equal(adapter.counters().failures, 2);
        } finally {
          await adapter.close();
        }
      }
    } finally {
      await up.close();
    }
  });

  it('a 200 whose body is not JSON is a bad_response', async () => {
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"choices": [tru');
    });
    const adapter = createProviderAdapter({ name: 'x', type: 'openai-compatible', baseUrl: up.url }, 'm');
    try {
      await assert.rejects(adapter.chatCompletion({ model: 'm', messages: [] }), (e: ProviderError) => e.errorClass === 'bad_response' && e.status === 502);
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('a 200 carrying an error object (SiliconFlow style) is an error, not a completion', async () => {
    const up = await startUpstream((_req, res) => sendJson(res, 200, { code: 1113, message: 'arrears', data: null }));
    const adapter = createProviderAdapter({ name: 'x', type: 'openai-compatible', baseUrl: up.url }, 'm');
    try {
      await assert.rejects(adapter.chatCompletion({ model: 'm', messages: [] }), (e: ProviderError) => e.errorClass === 'quota' && e.status === 402);
    } finally {
      await adapter.close();
      await up.close();
    }
  });
});
