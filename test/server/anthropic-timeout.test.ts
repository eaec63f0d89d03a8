import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { completion, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * Regression: on `/v1/messages` an upstream timeout and a spent `routing.requestTimeout` reached the
 * client as 500 `api_error`, "something broke", where Anthropic's own table has 504 `timeout_error`
 * for a request that took too long. The status and type now say which.
 */
describe('/v1/messages: a timeout is 504 timeout_error', () => {
  let up: Upstream;
  let g: RunningGateway;
  let client: Anthropic;
  before(async () => {
    up = await Upstream.start();
    // The upstream answers only after 2 s; the request's budget is 300 ms.
    up.onChat = (r) => {
      const t = setTimeout(() => completion(r.res, 'late'), 2000);
      r.res.on('close', () => clearTimeout(t));
    };
    g = await startGateway(`routing: { maxAttempts: 1, requestTimeout: 300ms, circuitConsecutiveFailures: 100 }
providers:
  loop: { type: openai-compatible, baseUrl: "${up.url}", apiKey: k }
models:
  claude-via-openai: { providers: [{ provider: loop, model: up-model }] }
`);
    client = new Anthropic({ baseURL: g.url, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  const params = { model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user' as const, content: 'x' }] };

  test('create(): 504 timeout_error, recorded as 504', async () => {
    let requestId: string | null | undefined;
    await assert.rejects(client.messages.create(params), (err: unknown) => {
      assert.ok(err instanceof Anthropic.APIError, String(err));
      assert.equal(err.status, 504);
      assert.equal((err.error as { error: { type: string } }).error.type, 'timeout_error');
      requestId = err.requestID;
      return true;
    });
    const line = g.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.reqId === requestId && String(l.msg ?? '').startsWith('messages'));
    assert.equal(line?.status, 504);
  });

  test('a stream that times out before its first event: 504 timeout_error too', async () => {
    await assert.rejects(client.messages.stream(params).finalMessage(), (err: unknown) => {
      assert.ok(err instanceof Anthropic.APIError, String(err));
      assert.equal(err.status, 504);
      assert.equal((err.error as { error: { type: string } }).error.type, 'timeout_error');
      return true;
    });
  });
});
