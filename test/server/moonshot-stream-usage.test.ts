import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { call, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * Bug: Moonshot (Kimi) reports a stream's usage unasked, but inside its last choice
 * (`choices[0].usage`), not at the top level. The gateway read only the top level, so every Moonshot
 * stream counted no tokens: nothing in `adapterpool_tokens_total`, the ledger or a key's `tpm`, and
 * /v1/messages answered with its own estimate.
 */
describe('Moonshot stream usage', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    up.onChat = (r) => {
      r.res.writeHead(200, { 'content-type': 'text/event-stream' });
      const frame = (choice: Record<string, unknown>) => `data: ${JSON.stringify({ id: 'cmpl-1', object: 'chat.completion.chunk', created: 1, model: 'kimi-k2', choices: [{ index: 0, ...choice }] })}\n\n`;
      r.res.write(frame({ delta: { role: 'assistant', content: 'Hello' }, finish_reason: null }));
      r.res.write(frame({ delta: {}, finish_reason: 'stop', usage: { prompt_tokens: 11, completion_tokens: 22, total_tokens: 33 } }));
      r.res.end('data: [DONE]\n\n');
    };
    g = await startGateway(`usage: { enabled: false }
pool: { minPoolSize: 1, maxPoolSize: 2, cleanupInterval: 1h, healthCheckInterval: 1h }
providers:
  kimi: { type: moonshot, baseUrl: "${up.url}", apiKey: moonshot-key-for-tests }
models:
  k: { providers: [{ provider: kimi, model: kimi-k2 }] }
`);
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('regression: usage inside the last choice was not read; the stream counts 11 prompt and 22 completion tokens', async () => {
    const client = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'k', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, 'Hello');
    const metrics = (await call(g.url, 'GET', '/metrics')).text;
    assert.match(metrics, /adapterpool_tokens_total\{[^}]*model="k"[^}]*type="prompt"\} 11\b/);
    assert.match(metrics, /adapterpool_tokens_total\{[^}]*model="k"[^}]*type="completion"\} 22\b/);

    // An Anthropic client of the same model is told the upstream's counts, not an estimate.
    const r = await fetch(`${g.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'k', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] }) });
    const events = await r.text();
    const delta = events.split('\n').find((l) => l.startsWith('data: ') && l.includes('"message_delta"'));
    assert.ok(delta !== undefined, events);
    assert.equal(JSON.parse(delta.slice(6)).usage.output_tokens, 22);
  });
});
