import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { completion, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * Regression: an answer over `maxResponseSize` (a large batch of embeddings, a long completion) counted
 * against the deployment's circuit, and its 502 let the SDKs retry: one client's oversized requests
 * made three upstream calls each and then shut every client out of the model for the cooldown (503).
 * The size is the request's doing: not retried by the SDK, not counted against the circuit.
 */
describe('an oversized answer is the request\'s, not the deployment\'s', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    // "big" asks for a 4 KB answer; anything else is small.
    up.onChat = (r) => completion(r.res, JSON.stringify(r.body.messages).includes('big') ? 'x'.repeat(4096) : 'small');
    g = await startGateway(`routing: { maxAttempts: 1, circuitConsecutiveFailures: 3 }
providers:
  loop: { type: openai-compatible, baseUrl: "${up.url}", apiKey: k, maxResponseSize: 2kb }
models:
  m: { providers: [{ provider: loop, model: up-model }] }
`);
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('five oversized answers with the SDK at its default retries: five upstream calls, each 502 not retried; the circuit stays closed', async () => {
    const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused' });
    const calls = up.requests.length;
    for (let i = 0; i < 5; i++) {
      await assert.rejects(client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'big' }] }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 502);
        assert.equal(err.code, 'upstream_response_too_large');
        assert.equal(err.headers?.get('x-should-retry'), 'false');
        return true;
      });
    }
    assert.equal(up.requests.length - calls, 5, 'one upstream call per request: the SDK did not retry');
    const ok = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(ok.choices[0]!.message.content, 'small', 'another client is still served: no circuit opened');
  });
});
