import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startGateway, Upstream, upstreamConfig, type RunningGateway } from '../server/helpers.js';
import { MACHINE_REDIS, PausableRelay, sleep, uniquePrefix } from './helpers.js';

const KEY = 'sk-team-admission-0123456789';

/**
 * Regression: the hang-up listener was added after a limited key's admission. A client that hung up
 * while the admission waited for Redis was never noticed: its request still went to the upstream
 * when Redis answered, for nobody.
 */
describe('a client that hangs up while its key\'s admission waits for Redis: no upstream call is made for it', () => {
  let relay: PausableRelay;
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    relay = await PausableRelay.start(MACHINE_REDIS);
    up = await Upstream.start();
    g = await startGateway(
      upstreamConfig(
        up.url,
        `cluster: { redis: "${relay.url(MACHINE_REDIS)}", prefix: "${uniquePrefix()}", replicaId: "adm", commandTimeout: 5s, connectTimeout: 2s }
auth:
  keys:
    - { name: team, key: "${KEY}", rpm: 2 }`,
      ),
    );
    // Shared mode: the key's admission goes to Redis.
    const deadline = Date.now() + 5000;
    for (;;) {
      const r = await fetch(`${g.url}/v1/pool/status`, { headers: { authorization: `Bearer ${KEY}` } });
      if (((await r.json()) as { data: { mode: string } }).data.mode === 'shared') break;
      if (Date.now() > deadline) throw new Error('the gateway never joined the cluster');
      await sleep(50);
    }
  });
  after(async () => {
    relay.resume();
    await g.close();
    await up.close();
    await relay.close();
  });

  test('the request is recorded as the client\'s 499 and the upstream never sees it', async () => {
    // One request through first: the link to Redis is up and the adapter made.
    const ok = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'up', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(ok.status, 200);
    assert.equal(up.requests.length, 1);

    relay.pause();
    const body = JSON.stringify({ model: 'up', messages: [{ role: 'user', content: 'hang up on me' }] });
    const req = http.request(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${KEY}` },
    });
    req.on('error', () => {});
    req.end(body);
    // The body is in and the admission waits on the paused Redis; then the client leaves.
    await sleep(300);
    req.destroy();
    await sleep(100);
    relay.resume();

    const deadline = Date.now() + 3000;
    while (!g.logs.some((l) => l.includes('"status":499')) && Date.now() < deadline) await sleep(20);
    await sleep(200);
    assert.ok(g.logs.some((l) => l.includes('"status":499')), `logged as the client's 499; log: ${g.logs.slice(-3).join('')}`);
    assert.equal(up.requests.length, 1, 'the upstream was not called for a client that was gone');
  });
});
