import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { errorReply, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * Bug: an error that retrying cannot fix (the upstream refused the gateway's key, its quota is gone,
 * it does not know the configured model) went out as a bare 502, which the OpenAI and Anthropic SDKs
 * retry by default: each call reached the upstream three times and took three times as long. They
 * read `x-should-retry` before the status; the gateway now says `false` on those.
 */
describe('x-should-retry: false on upstream failures that a retry repeats', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    up.onChat = (r) => {
      const model = String(r.body.model);
      if (model === 'refuse') return errorReply(r.res, 401, 'Incorrect API key provided');
      if (model === 'unknown') return errorReply(r.res, 404, 'The model does not exist');
      if (model === 'broke') return errorReply(r.res, 402, 'Insufficient balance');
      return errorReply(r.res, 500, 'a transient server error');
    };
    g = await startGateway(`routing: { maxAttempts: 1, circuitConsecutiveFailures: 1000 }
pool: { minPoolSize: 0 }
usage: { enabled: false }
providers:
  up: { type: openai-compatible, baseUrl: "${up.url}", apiKey: k }
models:
  refuse: { providers: [{ provider: up, model: refuse }] }
  unknown: { providers: [{ provider: up, model: unknown }] }
  broke: { providers: [{ provider: up, model: broke }] }
  flaky: { providers: [{ provider: up, model: flaky }] }
`);
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('regression: the SDKs retried an upstream 401/402/404 twice more (x-should-retry: false); a 500 is still theirs to retry', async () => {
    // Default retries (2), with no wait between them.
    const openai = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 2, timeout: 10_000 });
    const anthropic = new Anthropic({ baseURL: g.url, apiKey: 'unused', maxRetries: 2, timeout: 10_000 });
    for (const model of ['refuse', 'unknown', 'broke']) {
      for (const call of [
        () => openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }),
        () => anthropic.messages.create({ model, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
      ]) {
        const before = up.requests.length;
        await assert.rejects(call(), (err: unknown) => {
          assert.ok(err instanceof OpenAI.APIError || err instanceof Anthropic.APIError, String(err));
          assert.equal(err.headers?.get('x-should-retry'), 'false');
          return true;
        });
        assert.equal(up.requests.length - before, 1, `${model}: one upstream call, no SDK retries`);
      }
    }
    const before = up.requests.length;
    await assert.rejects(openai.chat.completions.create({ model: 'flaky', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => err instanceof OpenAI.APIError && err.headers?.get('x-should-retry') === null);
    assert.equal(up.requests.length - before, 3, 'a 500: the SDK retries as it would');
  });
});
