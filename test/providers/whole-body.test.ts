import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { createProviderAdapter, type ProviderError } from '../../src/providers/index.js';
import { HttpTransport } from '../../src/providers/transport.js';
import { completion, sendJson, startUpstream, tick } from './helpers.js';

const hi = { model: 'x', messages: [{ role: 'user' as const, content: 'hi' }] };

// Non-streaming calls read their body through undici's handler interface (HttpTransport.fetch), not a stream.
describe('bodies read whole (HttpTransport.fetch)', () => {
  it('a call whose signal is already aborted never reaches the upstream', async () => {
    const up = await startUpstream((_req, res) => sendJson(res, 200, completion('pong')));
    const adapter = createProviderAdapter({ name: 'up', type: 'openai', baseUrl: up.url, apiKey: 'sk-x' }, 'm');
    try {
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(adapter.chatCompletion(hi, { signal: ac.signal }), (e: ProviderError) => e.errorClass === 'aborted' && e.status === 499);
      await tick(50);
      assert.equal(up.requests.length, 0);
      assert.equal((await adapter.chatCompletion(hi)).choices[0]!.message.content, 'pong', 'the adapter still serves');
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('a finished call, answered or failed, leaves no abort listener on the caller\'s signal', async () => {
    const up = await startUpstream((req, res) => (req.json?.messages?.[0]?.content === 'fail' ? sendJson(res, 500, { error: { message: 'boom' } }) : sendJson(res, 200, completion('pong'))));
    const adapter = createProviderAdapter({ name: 'up', type: 'openai', baseUrl: up.url, apiKey: 'sk-x' }, 'm');
    try {
      const ac = new AbortController();
      for (let i = 0; i < 20; i++) await adapter.chatCompletion(hi, { signal: ac.signal });
      await assert.rejects(adapter.chatCompletion({ ...hi, messages: [{ role: 'user', content: 'fail' }] }, { signal: ac.signal }));
      assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('headers arrive lower-cased, a repeated one as a list; an error reply\'s retry-after reaches the error', async () => {
    const up = await startUpstream((req, res) => {
      if (req.json?.messages?.[0]?.content === 'limited') {
        res.writeHead(429, { 'content-type': 'application/json', 'Retry-After': '7' });
        res.end(JSON.stringify({ error: { message: 'slow down', type: 'rate_limit_error' } }));
        return;
      }
      res.writeHead(200, [['Content-Type', 'application/json'], ['X-Seen', 'a'], ['x-seen', 'b']]);
      res.end('{"ok":true}');
    });
    const transport = new HttpTransport(up.url);
    try {
      const r = await transport.fetch({ method: 'GET', path: '/any', headers: {} }, 'up', 1024);
      assert.equal(r.statusCode, 200);
      assert.equal(r.text, '{"ok":true}');
      assert.equal(r.headers['content-type'], 'application/json');
      assert.deepEqual(r.headers['x-seen'], ['a', 'b']);
    } finally {
      await transport.close();
    }
    const adapter = createProviderAdapter({ name: 'up', type: 'openai', baseUrl: up.url, apiKey: 'sk-x' }, 'm');
    try {
      await assert.rejects(adapter.chatCompletion({ ...hi, messages: [{ role: 'user', content: 'limited' }] }), (e: ProviderError) => e.errorClass === 'rate_limited' && e.retryAfterMs === 7000);
    } finally {
      await adapter.close();
      await up.close();
    }
  });
});
