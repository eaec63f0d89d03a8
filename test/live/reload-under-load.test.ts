import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { Pool } from 'undici';
import { eventually } from '../server/helpers.js';
import { LiveUpstream, reloadVia, startFileGateway } from './helpers.js';

const ADMIN = 'admin-key-load-0001';
const KEY = 'client-key-load-0001';
/** Offered load: requests started per second (open loop), half of them streaming. */
const RATE = 220;
const DURATION_MS = 10_000;
const RELOADS = 20;

/**
 * Config A adds deployment `two` to model `chat`, a bigger pool and provider key K1; config B has
 * only deployment `one`, a smaller pool and key K2. Every reload alternates between them.
 */
function configA(u1: LiveUpstream, u2: LiveUpstream): string {
  return `server: { host: 127.0.0.1, port: 0 }
auth: { adminKey: ${ADMIN}, apiKeys: [${KEY}] }
pool: { minPoolSize: 2, maxPoolSize: 16 }
providers:
  one: { type: openai-compatible, baseUrl: "${u1.url}", apiKey: "provider-key-k1" }
  two: { type: openai-compatible, baseUrl: "${u2.url}", apiKey: "provider-key-two" }
models:
  chat: { strategy: round_robin, providers: [{ provider: one, model: up-one }, { provider: two, model: up-two }] }
`;
}

function configB(u1: LiveUpstream, u2: LiveUpstream): string {
  return `server: { host: 127.0.0.1, port: 0 }
auth: { adminKey: ${ADMIN}, apiKeys: [${KEY}] }
pool: { minPoolSize: 1, maxPoolSize: 8 }
providers:
  one: { type: openai-compatible, baseUrl: "${u1.url}", apiKey: "provider-key-k2" }
  two: { type: openai-compatible, baseUrl: "${u2.url}", apiKey: "provider-key-two" }
models:
  chat: { strategy: round_robin, providers: [{ provider: one, model: up-one }] }
`;
}

interface Outcome {
  stream: boolean;
  ok: boolean;
  detail: string;
}

describe('reloads under steady load', () => {
  it(`${RELOADS} reloads (deployment added/removed, pool sizes, provider key) and one invalid config at ${RATE} req/s, half streaming: nothing fails`, async (t) => {
    const u1 = await LiveUpstream.start('one');
    const u2 = await LiveUpstream.start('two');
    u1.chunks = u2.chunks = 5;
    u1.chunkDelayMs = u2.chunkDelayMs = 3;
    const g = await startFileGateway(configB(u1, u2));
    const client = new Pool(g.url, { connections: 128 });
    try {
      const body = (stream: boolean) => JSON.stringify({ model: 'chat', stream, messages: [{ role: 'user', content: 'hi' }] });
      const one = async (stream: boolean): Promise<Outcome> => {
        try {
          const res = await client.request({ method: 'POST', path: '/v1/chat/completions', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: body(stream) });
          const text = await res.body.text();
          if (res.statusCode !== 200) return { stream, ok: false, detail: `${res.statusCode} ${text}` };
          if (stream) return { stream, ok: text.endsWith('data: [DONE]\n\n') && /-4 /.test(text), detail: text.slice(-200) };
          return { stream, ok: (JSON.parse(text) as { choices?: unknown[] }).choices?.length === 1, detail: text };
        } catch (err) {
          return { stream, ok: false, detail: String(err) };
        }
      };

      // Open-loop load: requests start on schedule whatever the latency, for at least DURATION_MS
      // and until the last reload has answered (every reload happens under load).
      const outcomes: Array<Promise<Outcome>> = [];
      const started = Date.now();
      let reloading = true;
      let loadMs = 0;
      const load = (async () => {
        while (reloading || Date.now() - started < DURATION_MS) {
          const due = Math.floor(((Date.now() - started) / 1000) * RATE);
          while (outcomes.length < due) outcomes.push(one(outcomes.length % 2 === 1));
          await sleep(5);
        }
        loadMs = Date.now() - started;
      })();

      const runningConfig = async () => ((await (await fetch(`${g.url}/v1/admin/config`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { data: unknown }).data;
      // Reloads spread over the run, alternating B -> A -> B ...; an invalid file in the middle.
      const versions: number[] = [];
      const reloadTimes: number[] = [];
      let invalid: { status: number; json: any } | undefined;
      for (let i = 1; i <= RELOADS; i++) {
        await sleep(DURATION_MS / (RELOADS + 1));
        if (i === RELOADS / 2) {
          const before = await runningConfig();
          await g.write(configA(u1, u2).replace('apiKey: "provider-key-k1"', 'apiKey: "${LOAD_TEST_UNSET}"'));
          invalid = await reloadVia(g.url, ADMIN);
          assert.deepEqual(await runningConfig(), before, 'the invalid file changed nothing: same version, same config');
        }
        await g.write(i % 2 === 1 ? configA(u1, u2) : configB(u1, u2));
        const t0 = Date.now();
        const r = await reloadVia(g.url, ADMIN);
        reloadTimes.push(Date.now() - t0);
        assert.equal(r.status, 200, JSON.stringify(r.json));
        versions.push(r.json.data.version);
      }
      const reloadsMs = Date.now() - started;
      reloading = false;
      await load;
      const results = await Promise.all(outcomes);
      t.diagnostic(`${results.length} requests started in ${loadMs} ms (${Math.round((results.length * 1000) / loadMs)} req/s), ${results.filter((r) => r.stream).length} streams; ${RELOADS + 1} reloads done by ${reloadsMs} ms (each answered in ${Math.min(...reloadTimes)}..${Math.max(...reloadTimes)} ms); upstream one ${u1.chatHits}, two ${u2.chatHits} chat calls`);

      const failed = results.filter((r) => !r.ok);
      assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${results.length} requests failed`);
      assert.ok(results.length >= (RATE * loadMs) / 1000 - RATE, `${results.length} requests ran in ${loadMs} ms`);
      const streams = results.filter((r) => r.stream).length;
      assert.ok(streams >= results.length / 2 - 1, 'half of them streams, each ending in [DONE]');

      assert.deepEqual(versions, Array.from({ length: RELOADS }, (_, i) => i + 2), 'each reload applied: versions 2..21');
      assert.equal(invalid?.status, 400);
      assert.match(invalid!.json.message, /^配置重新加载失败: .*gateway\.yaml:\d+:\d+: providers\.one\.apiKey: environment variable LOAD_TEST_UNSET is not set/);

      // Both deployments served, both provider keys were used, and the last one (B's) is used now.
      assert.ok(u2.chatHits > 0 && u1.chatHits > 0);
      assert.ok(u1.auth.includes('Bearer provider-key-k1') && u1.auth.includes('Bearer provider-key-k2'));
      const seen = u1.auth.length;
      for (let i = 0; i < 4; i++) assert.equal((await one(i % 2 === 0)).ok, true);
      assert.deepEqual(new Set(u1.auth.slice(seen)), new Set(['Bearer provider-key-k2']));

      // The last config (B) removed deployment two: its pool drains and its upstream sees every connection closed.
      await g.gw.reloader.drained();
      await eventually(() => u2.openSockets === 0, 'upstream two: connections closed', 10_000);
      assert.ok(u2.closed > 0);
      assert.equal(g.gw.pool.stats().pools['up-two:two'], undefined);
      const status = g.gw.pool.status();
      assert.equal(status.in_use_adapters, 0);
      assert.equal(g.gw.pool.stats().pools['up-one:one']!.max_pool_size, 8, "B's pool size applies");
      assert.ok(g.gw.pool.stats().pools['up-one:one']!.total <= 8);
      const metrics = await (await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
      assert.match(metrics, new RegExp(`adapterpool_config_reloads_total\\{result="success"\\} ${RELOADS}\\n`));
      assert.match(metrics, /adapterpool_config_reloads_total\{result="failure"\} 1\n/);
    } finally {
      await client.close();
      await g.close();
      await u1.close();
      await u2.close();
    }
  });
});
