import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * For a describe block: a gateway whose model `m` has one deployment of provider type `type`, on a
 * loopback upstream that answers every chat call with HTTP `status` and the JSON `body` (a provider's
 * own refusal). Read `up` and `g` inside the tests.
 */
function refusingProvider(type: string, status: number, body: unknown, routing: string): { readonly up: Upstream; readonly g: RunningGateway } {
  const s = {} as { up: Upstream; g: RunningGateway };
  before(async () => {
    s.up = await Upstream.start();
    s.up.onChat = (r) => {
      r.res.writeHead(status, { 'content-type': 'application/json' });
      r.res.end(JSON.stringify(body));
    };
    s.g = await startGateway(`routing: ${routing}
pool: { minPoolSize: 1, maxPoolSize: 2, cleanupInterval: 1h, healthCheckInterval: 1h }
usage: { enabled: false }
providers:
  p: { type: ${type}, baseUrl: "${s.up.url}", apiKey: provider-key-for-tests }
models:
  m: { providers: [{ provider: p, model: up-model }] }
`);
  });
  after(async () => {
    await s.g.close();
    await s.up.close();
  });
  return s;
}

const CHAT = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

/**
 * Bug: an upstream's 429s counted against the deployment's circuit. On a model with one deployment,
 * five rate-limited requests in a row opened it, and for the whole circuit cooldown (30 s) every
 * request got 503 `no_deployment_available` without reaching the upstream — a 1 s rate limit became
 * a 30 s outage. A 429 is the upstream asking for time: its Retry-After (the router's throttle)
 * answers it, and the circuit stays closed.
 */
describe('upstream 429s and the circuit', () => {
  // Volcengine Ark's per-endpoint rpm refusal, without Retry-After.
  const s = refusingProvider(
    'volcengine',
    429,
    { error: { code: 'RateLimitExceeded.EndpointRPMExceeded', message: 'The request has exceeded the endpoint RPM limit.', param: '', type: 'TooManyRequests' } },
    '{ maxAttempts: 1, circuitConsecutiveFailures: 3, circuitCooldown: 5m }',
  );

  test('regression: repeated upstream 429s opened the circuit of a one-deployment model (503 for the whole cooldown); every request reaches the upstream and gets its 429', async () => {
    for (let i = 0; i < 6; i++) {
      const before = s.up.requests.length;
      const r = await call(s.g.url, 'POST', '/v1/chat/completions', { body: CHAT });
      assert.equal(r.status, 429, `request ${i + 1}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error.code, 'upstream_rate_limited');
      assert.ok(r.headers.get('retry-after') !== null);
      assert.equal(s.up.requests.length, before + 1, `request ${i + 1} reached the upstream`);
    }
    const view = await call(s.g.url, 'GET', '/v1/pool/deployments');
    const row = view.json.data.deployments.find((d: { key: string }) => d.key === 'up-model:p');
    assert.equal(row.circuit, 'closed');
  });
});

/**
 * Bug: Zhipu's "overloaded" refusal (business code 1305, sent as HTTP 429) reached an OpenAI client
 * as a generic 502 `upstream_server_error` without Retry-After, and an Anthropic client as 500
 * `api_error`. README's table answers an overloaded upstream with 503 + Retry-After
 * `upstream_unavailable` (529 `overloaded_error` on /v1/messages).
 */
describe('an overloaded upstream', () => {
  const s = refusingProvider('zhipu', 429, { error: { code: '1305', message: '当前API请求过多，请稍后重试。' } }, '{ maxAttempts: 1 }');

  test('regression: Zhipu 1305 (HTTP 429) was a 502 upstream_server_error; it is 503 upstream_unavailable with Retry-After, and 529 overloaded_error on /v1/messages', async () => {
    const chat = await call(s.g.url, 'POST', '/v1/chat/completions', { body: CHAT });
    assert.equal(chat.status, 503, JSON.stringify(chat.json));
    assert.equal(chat.json.error.code, 'upstream_unavailable');
    assert.ok(chat.headers.get('retry-after') !== null);
    const messages = await call(s.g.url, 'POST', '/v1/messages', { body: { model: 'm', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] } });
    assert.equal(messages.status, 529, JSON.stringify(messages.json));
    assert.equal(messages.json.type, 'error');
    assert.equal(messages.json.error.type, 'overloaded_error');
  });
});
