import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdapterPool } from '../../src/pool/index.js';
import { createProviderAdapter, type ChatAdapter } from '../../src/providers/index.js';
import { chunk, completion, sendJson, sseHead, startUpstream } from './helpers.js';

const REQUESTS = 1_000;
const MAX_POOL_SIZE = 4;
const CONCURRENCY = 50;

/** Run `total` tasks with at most `concurrency` in flight. */
async function runConcurrently(total: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) await task(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

describe('connection reuse through the adapter pool', () => {
  it(`${REQUESTS} requests, ${CONCURRENCY} at a time, through at most ${MAX_POOL_SIZE} adapters open at most ${MAX_POOL_SIZE} connections`, async () => {
    const up = await startUpstream((req, res) => {
      if (!req.json?.stream) return sendJson(res, 200, completion('pong'));
      sseHead(res);
      res.write(`data: ${chunk({ role: 'assistant', content: 'po' })}\n\n`);
      res.end(`data: ${chunk({ content: 'ng' }, 'stop')}\n\ndata: [DONE]\n\n`);
    });
    const created: ChatAdapter[] = [];
    const pool = new AdapterPool<ChatAdapter>({
      createAdapter: async ({ model, provider }) => {
        const a = createProviderAdapter({ name: provider, type: 'openai-compatible', baseUrl: `${up.url}/v1`, apiKey: 'test-key' }, model);
        created.push(a);
        return a;
      },
      maxPoolSize: MAX_POOL_SIZE,
      minPoolSize: 0,
    });
    try {
      let streamed = 0;
      await runConcurrently(REQUESTS, CONCURRENCY, async (i) => {
        await pool.withAdapter('gpt-test', 'local', async (adapter) => {
          // Every fifth request streams: a finished stream must hand its socket back too.
          if (i % 5 === 0) {
            let text = '';
            for await (const c of await adapter.chatCompletionStream({ model: 'gpt-test', messages: [{ role: 'user', content: `ping ${i}` }] })) {
              text += c.choices[0]?.delta.content ?? '';
            }
            assert.equal(text, 'pong');
            streamed++;
          } else {
            const res = await adapter.chatCompletion({ model: 'gpt-test', messages: [{ role: 'user', content: `ping ${i}` }] });
            assert.equal(res.choices[0]!.message.content, 'pong');
          }
        });
      });
      const served = up.requests.length;
      const totals = created.reduce((n, a) => n + a.counters().successes, 0);
      console.log(`connection reuse: ${served} requests (${streamed} streamed), ${created.length} adapters (max ${MAX_POOL_SIZE}), ${up.connections} TCP connections accepted by the upstream`);
      assert.equal(served, REQUESTS);
      assert.equal(totals, REQUESTS);
      assert.ok(created.length <= MAX_POOL_SIZE, `created ${created.length} adapters`);
      assert.ok(up.connections <= MAX_POOL_SIZE, `upstream accepted ${up.connections} connections for at most ${MAX_POOL_SIZE} adapters`);
      assert.ok(up.connections >= 1);
    } finally {
      await pool.close();
      await up.close();
    }
  });
});
