import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { call, completion, errorReply, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * Bug: one upstream 401 marks the adapter unhealthy and opens the circuit. After the cooldown the
 * router still saw "every adapter unhealthy" and never let the half-open probe ask the pool for a
 * fresh adapter: the deployment stayed down until cleanup retired the unhealthy one (a minute by
 * default), while each 503 said `Retry-After: <cooldown>`, a promise it did not keep.
 */

/**
 * For a describe block: a loopback upstream that refuses the gateway's key (401) until `refuse` is
 * set false, and a gateway with one deployment on it (pool of `maxPoolSize`), started before the tests.
 */
function refusingDeployment(maxPoolSize: number) {
  const s = { refuse: true, chatCalls: 0, g: undefined as unknown as RunningGateway };
  let up: Upstream;
  before(async () => {
    up = await Upstream.start();
    up.onChat = (r) => {
      s.chatCalls++;
      if (s.refuse) errorReply(r.res, 401, 'Incorrect API key provided');
      else completion(r.res, 'ok');
    };
    s.g = await startGateway(`routing: { maxAttempts: 1, circuitCooldown: 300ms }
pool: { minPoolSize: 1, maxPoolSize: ${maxPoolSize}, cleanupInterval: 1h, healthCheckInterval: 1h, acquireTimeout: 2s }
usage: { enabled: false }
providers:
  up: { type: openai-compatible, baseUrl: "${up.url}", apiKey: k }
models:
  m: { providers: [{ provider: up, model: up-model }] }
`);
  });
  after(async () => {
    await s.g.close();
    await up.close();
  });
  const ask = () => call(s.g.url, 'POST', '/v1/chat/completions', { body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } });
  return Object.assign(s, { ask });
}

describe('a deployment whose adapters are all unhealthy comes back after the cooldown', () => {
  const d = refusingDeployment(4);
  const ask = d.ask;

  test('regression: after an upstream 401 the deployment stayed down until cleanup, though each 503 promised it after the cooldown', async () => {
    assert.equal((await ask()).status, 502, 'the refusal itself');
    const down = await ask();
    assert.equal(down.status, 503);
    assert.equal(down.headers.get('retry-after'), '1');

    // Still refused after the cooldown: the probe finds out (a fresh adapter's check fails), answered in time, and the circuit opens again.
    await sleep(400);
    const t0 = performance.now();
    const still = await ask();
    assert.ok([502, 503].includes(still.status), `${still.status} ${still.text}`);
    assert.ok(performance.now() - t0 < 2500, 'the probe does not hang');
    assert.equal((await ask()).status, 503, 'open again');

    // The key works again: the first request after the cooldown is served, with no cleanup in between.
    d.refuse = false;
    await sleep(400);
    const calls = d.chatCalls;
    const back = await ask();
    assert.equal(back.status, 200, back.text);
    assert.equal(d.chatCalls, calls + 1);
    assert.equal((await ask()).status, 200);
  });
});

/**
 * Regression: the same with a pool of one (`maxPoolSize: 1`). The unhealthy adapter held the only
 * room, the router saw no room for the probe and the pool made none: the deployment stayed down
 * until cleanup. A full pool now closes an unhealthy adapter for a waiter, and the probe waits for it.
 */
describe('a deployment with a pool of one, its adapter unhealthy, comes back after the cooldown', () => {
  const d = refusingDeployment(1);

  test('the first request after the cooldown is served, with no cleanup in between', async () => {
    const ask = d.ask;
    assert.equal((await ask()).status, 502, 'the refusal itself');
    assert.equal((await ask()).status, 503);
    d.refuse = false;
    await sleep(400);
    const back = await ask();
    assert.equal(back.status, 200, back.text);
    assert.equal((await ask()).status, 200);
  });
});
