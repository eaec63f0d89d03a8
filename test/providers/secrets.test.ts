import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createProviderAdapter, scrubberFor, type ProviderError } from '../../src/providers/index.js';
import { toErrorReply } from '../../src/server/errors.js';
import { chunk, collect, sendJson, sseHead, startUpstream, type ReceivedRequest } from './helpers.js';

const KEY = 'sk-live-KEY-0123456789abcdefghij';
const HEADER_SECRET = 'hdr-TOKEN-9876543210zyxwvu';
const QUERY_SECRET = 'qs-SECRET-5555666677778888';
const SECRETS = [KEY, HEADER_SECRET, QUERY_SECRET];
const hi = { model: 'x', messages: [{ role: 'user' as const, content: 'hi' }] };

/** Everything the upstream received that could be secret, echoed into every field it can. */
function echo(req: ReceivedRequest): string {
  return `auth=${req.headers.authorization} token=${req.headers['x-api-token']} url=${req.url}`;
}

function assertClean(what: string, value: unknown): void {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  for (const s of SECRETS) assert.ok(!text.includes(s), `${what} leaks ${s}: ${text}`);
  assert.ok(!text.includes(KEY.slice(0, 8)) && !text.includes(KEY.slice(-6)), `${what} leaks part of the key: ${text}`);
}

describe('#16 item 3: on an upstream 400/422 the error type, code and param reach the client unredacted', () => {
  for (const status of [400, 422]) {
    it(`an upstream ${status} echoing the Authorization header, a configured header and the query key into message/type/code/param`, async () => {
      const up = await startUpstream((req, res) => {
        const e = echo(req);
        sendJson(res, status, { error: { message: `bad request: ${e}`, type: `invalid ${e}`, code: `code ${e}`, param: `param ${e}` } });
      });
      const logs: unknown[] = [];
      const adapter = createProviderAdapter(
        { name: 'echo', type: 'openai', baseUrl: `${up.url}/v1?key=${QUERY_SECRET}`, apiKey: KEY, headers: { 'X-Api-Token': HEADER_SECRET } },
        'm',
        { logger: { debug: (o, m) => logs.push(o, m) } },
      );
      try {
        await assert.rejects(adapter.chatCompletion(hi), (e: ProviderError) => {
          assert.equal(e.errorClass, 'client_error');
          assert.ok(e.message.includes('bad request: auth=Bearer ***'), e.message);
          assertClean('message', e.message);
          assertClean('body', e.body);
          const reply = toErrorReply(e);
          assert.equal(reply.status, status);
          assertClean('client reply', reply.body);
          return true;
        });
        // The upstream did receive them (the echo is real).
        assert.equal(up.requests.at(-1)!.headers['x-api-token'], HEADER_SECRET);
        assert.ok(up.requests.at(-1)!.url.includes(QUERY_SECRET));
        assert.ok(logs.length > 0);
        assertClean('logs', logs);
      } finally {
        await adapter.close();
        await up.close();
      }
    });
  }

  it('stream error frames and a 200 JSON error instead of SSE are scrubbed too (first event and later)', async () => {
    const up = await startUpstream((req, res) => {
      const e = echo(req);
      const mode = req.json?.messages?.[0]?.content;
      if (mode === 'json') return sendJson(res, 200, { error: { message: `no: ${e}`, type: e, code: e, param: e } });
      sseHead(res);
      const frame = `data: ${JSON.stringify({ error: { message: `overloaded: ${e}`, type: e, code: e, param: e } })}\n\n`;
      if (mode === 'first') {
        res.end(frame);
        return;
      }
      res.end(`data: ${chunk({ role: 'assistant', content: 'a' })}\n\n${frame}`);
    });
    const adapter = createProviderAdapter({ name: 'echo', type: 'deepseek', baseUrl: `${up.url}?key=${QUERY_SECRET}`, apiKey: KEY, headers: { 'X-Api-Token': HEADER_SECRET } }, 'm');
    const check = (e: ProviderError) => {
      assertClean('error', { message: e.message, body: e.body, cause: String(e.cause) });
      assertClean('reply', toErrorReply(e).body);
      return true;
    };
    try {
      await assert.rejects(adapter.chatCompletionStream({ ...hi, messages: [{ role: 'user', content: 'first' }] }), check);
      await assert.rejects(adapter.chatCompletionStream({ ...hi, messages: [{ role: 'user', content: 'json' }] }), check);
      const s = await adapter.chatCompletionStream({ ...hi, messages: [{ role: 'user', content: 'later' }] });
      await assert.rejects(collect(s.sse()), (e: ProviderError) => e.errorClass === 'stream_error' && check(e));
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('anthropic: an error event echoing x-api-key is scrubbed', async () => {
    const up = await startUpstream((req, res) => {
      sseHead(res);
      res.end(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: `key ${req.headers['x-api-key']}` } })}\n\n`);
    });
    const adapter = createProviderAdapter({ name: 'claude', type: 'anthropic', baseUrl: `${up.url}/v1`, apiKey: KEY }, 'm');
    try {
      await assert.rejects(adapter.chatCompletionStream(hi), (e: ProviderError) => {
        assertClean('error', { message: e.message, body: e.body });
        return true;
      });
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('the scrubber covers key, header values (and their bearer token), query-string values and URL credentials', () => {
    const s = scrubberFor({
      apiKey: KEY,
      headers: { authorization: 'Bearer tok-ABCDEFGHIJKLMNOP', 'x-org': 'org-secret-1' },
      baseUrl: 'https://user-x:p%40ss-word@example.com/v1?key=a%2Fb-secret&sig=zz-signature',
    });
    const text = `k=${KEY} b=tok-ABCDEFGHIJKLMNOP o=org-secret-1 q=a/b-secret q2=a%2Fb-secret s=zz-signature u=user-x p=p@ss-word p2=p%40ss-word head=${KEY.slice(0, 8)} tail=${KEY.slice(-6)}`;
    const out = s.text(text);
    for (const secret of [KEY, 'tok-ABCDEFGHIJKLMNOP', 'org-secret-1', 'a/b-secret', 'a%2Fb-secret', 'zz-signature', 'user-x', 'p@ss-word', 'p%40ss-word', KEY.slice(0, 8), KEY.slice(-6)]) {
      assert.ok(!out.includes(secret), `${secret} left in ${out}`);
    }
    assert.equal(scrubberFor({}).empty, true);
  });
});
