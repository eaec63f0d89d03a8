import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventually, startGateway } from './helpers.js';

/** The gauge's value in a /metrics text. */
function inFlight(text: string): number | undefined {
  const m = /^adapterpool_requests_in_flight (\d+)$/m.exec(text);
  return m === null ? undefined : Number(m[1]);
}

describe('adapterpool_requests_in_flight', () => {
  test('/metrics had no count of the requests in flight (only pools in use and waiters): a stream and a queued request count while they run, and 0 once they end', async () => {
    const g = await startGateway(`
providers: { slow: { type: mock, mock: { chunks: 4, chunkDelay: 200ms } } }
models: { m: { providers: [{ provider: slow, pool: { maxPoolSize: 1, minPoolSize: 0 } }] } }
`);
    try {
      const metrics = async () => inFlight(await (await fetch(`${g.url}/metrics`)).text());
      assert.equal(await metrics(), 0);
      const post = (stream: boolean) =>
        fetch(`${g.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: 'hi' }] }),
        }).then((r) => r.text());
      // One stream holds the only adapter; the second request waits for it.
      const both = Promise.all([post(true), post(false)]);
      await eventually(() => g.gw.pool.stats().pools['m:slow']?.waiting === 1, 'the second request is queued');
      assert.equal(await metrics(), 2);
      await both;
      let now = await metrics();
      for (let i = 0; i < 100 && now !== 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        now = await metrics();
      }
      assert.equal(now, 0, 'back to 0 once both ended');
    } finally {
      await g.close();
    }
  });
});
