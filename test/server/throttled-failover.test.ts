import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, completion, errorReply, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * Bug: a deployment that answered 429 with `Retry-After` was sent the next request at once (9 ms
 * after it asked for a second; with `Retry-After: 3600`, five requests in 200 ms until its circuit
 * opened), while a fallback was idle. Now it is left aside for its Retry-After (at most
 * routing.maxRetryAfter) while another deployment can serve. The request that met the 429 goes to
 * the fallback at once too (it used to wait the Retry-After out and retry the throttled one first).
 */
describe('a throttled deployment is left aside while another can serve', () => {
  let up: Upstream;
  let g: RunningGateway;
  const calls: string[] = [];
  let throttle = true;
  before(async () => {
    up = await Upstream.start();
    up.onChat = (r) => {
      const model = String(r.body.model);
      calls.push(model);
      if (model === 'primary' && throttle) return errorReply(r.res, 429, 'Rate limit reached for requests', { 'retry-after': '2' });
      return completion(r.res, `from ${model}`);
    };
    g = await startGateway(`routing: { maxAttempts: 3, maxAttemptsPerDeployment: 2 }
usage: { enabled: false }
providers:
  up: { type: openai-compatible, baseUrl: "${up.url}", apiKey: k }
models:
  m:
    strategy: failover
    providers:
      - { provider: up, model: primary, priority: 0 }
      - { provider: up, model: secondary, priority: 1 }
`);
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  const ask = () => call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } });

  test('regression: the requests after a 429 with Retry-After went straight back to the throttled deployment while the fallback was idle', async () => {
    // The request that meets the 429: straight to the fallback (it waited the Retry-After out and
    // retried the primary first, ['primary', 'primary', 'secondary'], until the fix in faults.test.ts).
    const first = await ask();
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get('x-adapterpool-deployment'), 'secondary:up');
    assert.deepEqual(calls, ['primary', 'secondary']);

    // Within the Retry-After: straight to the fallback, the throttled one is not asked again.
    calls.length = 0;
    for (let i = 0; i < 3; i++) assert.equal((await ask()).headers.get('x-adapterpool-deployment'), 'secondary:up');
    assert.deepEqual(calls, ['secondary', 'secondary', 'secondary']);

    // After it, the primary has its traffic back.
    throttle = false;
    await new Promise((resolve) => setTimeout(resolve, 2100));
    calls.length = 0;
    assert.equal((await ask()).headers.get('x-adapterpool-deployment'), 'primary:up');
    assert.deepEqual(calls, ['primary']);
  });
});
