import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProviderAdapter, type ProviderError } from '../../src/providers/index.js';
import { chunk, completion, sendJson, sseHead, startUpstream, tick } from './helpers.js';

const hi = { model: 'x', messages: [{ role: 'user' as const, content: 'hi' }] };

/** The upstream answers `slow` requests with a stream (or body) that never ends, the rest at once. */
async function upstream() {
  return startUpstream((req, res) => {
    const slow = req.json?.messages?.[0]?.content === 'slow';
    if (!req.json?.stream) {
      if (!slow) return sendJson(res, 200, completion('pong'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":"chatcmpl-1",'); // ...and never the rest
      return;
    }
    sseHead(res);
    res.write(`data: ${chunk({ role: 'assistant', content: 'a' })}\n\n`);
    if (!slow) res.end('data: [DONE]\n\n');
  });
}

describe('#16 item 9: each client hang-up costs two upstream connections', () => {
  for (const how of ['signal', 'cancel'] as const) {
    it(`a stream given up mid-way (${how}) costs one connection; the next request connects lazily`, async () => {
      const up = await upstream();
      const adapter = createProviderAdapter({ name: 'up', type: 'openai', baseUrl: up.url, apiKey: 'sk-x' }, 'm');
      try {
        for (let i = 0; i < 3; i++) {
          const ac = new AbortController();
          const s = await adapter.chatCompletionStream({ ...hi, messages: [{ role: 'user', content: 'slow' }] }, { signal: ac.signal });
          const it = s.sse()[Symbol.asyncIterator]();
          await it.next();
          const pending = it.next();
          if (how === 'signal') ac.abort();
          else s.cancel();
          await assert.rejects(pending, (e: ProviderError) => e.errorClass === 'aborted');
        }
        await tick(100);
        assert.equal(up.connections, 3, 'one connection per request, none opened after a hang-up');
        const s = await adapter.chatCompletionStream(hi);
        for await (const _ of s.sse());
        assert.equal(up.connections, 4, 'the next request connects on demand');
        await adapter.chatCompletion(hi);
        assert.equal(up.connections, 4, 'and its connection is kept alive for the following one');
      } finally {
        await adapter.close();
        await up.close();
      }
    });
  }

  it('a non-streaming call aborted while its body arrives costs one connection', async () => {
    const up = await upstream();
    const adapter = createProviderAdapter({ name: 'up', type: 'openai', baseUrl: up.url, apiKey: 'sk-x' }, 'm');
    try {
      const ac = new AbortController();
      const p = adapter.chatCompletion({ ...hi, messages: [{ role: 'user', content: 'slow' }] }, { signal: ac.signal });
      await tick(50);
      ac.abort();
      await assert.rejects(p, (e: ProviderError) => e.errorClass === 'aborted');
      await tick(100);
      assert.equal(up.connections, 1);
      assert.equal((await adapter.chatCompletion(hi)).choices[0]!.message.content, 'pong');
      assert.equal(up.connections, 2);
    } finally {
      await adapter.close();
      await up.close();
    }
  });
});
