import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AnthropicAdapter, ProviderError } from '../../src/providers/index.js';
import { collect, sendJson, sseHead, startUpstream, type Upstream } from './helpers.js';

const KEY = 'sk-ant-passthrough-0123456789';

function event(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

const STREAM = [
  event('message_start', { message: { id: 'msg_p', type: 'message', role: 'assistant', model: 'claude-up', content: [], stop_reason: null, usage: { input_tokens: 7, output_tokens: 1 } } }),
  event('ping', {}),
  event('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '' } }),
  event('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } }),
  event('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: 'sig' } }),
  event('content_block_stop', { index: 0 }),
  event('content_block_start', { index: 1, content_block: { type: 'text', text: '' } }),
  event('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'hi' } }),
  event('content_block_stop', { index: 1 }),
  event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 4 } }),
  event('message_stop', {}),
];

describe('anthropic: a client Messages request passed through', () => {
  let up: Upstream;
  let adapter: AnthropicAdapter;
  before(async () => {
    up = await startUpstream((req, res) => {
      if (req.json?.metadata?.fail === 'first-event') {
        sseHead(res);
        res.end(event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
      } else if (req.json?.stream) {
        sseHead(res);
        res.end(STREAM.join(''));
      } else {
        sendJson(res, 200, { id: 'msg_p', type: 'message', role: 'assistant', model: 'claude-up', content: [{ type: 'text', text: 'hi', citations: null }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 7, output_tokens: 4 } });
      }
    });
    adapter = new AnthropicAdapter({ provider: 'claude', type: 'anthropic', model: 'claude-up', baseUrl: `${up.url}/v1`, apiKey: KEY, headers: { 'anthropic-beta': 'configured-beta' } });
  });
  after(async () => {
    await adapter.close();
    await up.close();
  });

  it('non-streaming: the body as sent (fields we do not know included), our model id, our key, the client beta after ours', async () => {
    const body = { model: 'gateway-name', max_tokens: 10, messages: [{ role: 'user', content: 'x' }], thinking: { type: 'enabled', budget_tokens: 1024 }, top_k: 3 };
    const msg = await adapter.messages(body, { beta: 'client-beta' });
    assert.deepEqual(msg.content, [{ type: 'text', text: 'hi', citations: null }]);
    const sent = up.requests.at(-1)!;
    assert.equal(sent.url, '/v1/messages');
    assert.deepEqual(sent.json, { ...body, model: 'claude-up' });
    assert.equal(sent.headers['x-api-key'], KEY);
    assert.equal(sent.headers['anthropic-beta'], 'configured-beta,client-beta');
    assert.equal(adapter.counters().successes, 1);
  });

  it('streaming: native() yields the upstream events byte for byte (thinking included) and reads usage', async () => {
    const s = await adapter.messagesStream({ model: 'x', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
    const out = Buffer.concat(await collect(s.native())).toString();
    assert.equal(out, STREAM.join(''));
    assert.equal(up.requests.at(-1)!.json.stream, true);
    assert.equal(s.usage?.prompt_tokens, 7);
    assert.equal(s.usage?.completion_tokens, 4);
  });

  it('an error as the first event rejects before anything is passed on (so the router can fail over)', async () => {
    await assert.rejects(adapter.messagesStream({ model: 'x', max_tokens: 10, metadata: { fail: 'first-event' }, messages: [] }), (err: unknown) => err instanceof ProviderError && err.status === 529);
  });
});
