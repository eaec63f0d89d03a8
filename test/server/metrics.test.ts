import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { parseConfig } from '../../src/config/index.js';
import { PROVIDER_TYPES } from '../../src/providers/registry.js';
import { buildGateway, createLogger, type Gateway } from '../../src/server/index.js';
import { CounterFamily, HistogramFamily } from '../../src/server/metrics.js';

/** Observability: GET /metrics, the seed's metrics in stats?detail=true, the per-request log line. */

const PROVIDER_SECRET = 'sk-test-NEVER-SHOW-7f3a9c';
const API_KEY = 'client-key-123';
const ADMIN_KEY = 'admin-key-456';
const PROMPT = 'my secret prompt about Zanzibar';

const YAML = `
server: { host: 127.0.0.1, port: 0 }
auth: { apiKeys: [${API_KEY}], adminKey: ${ADMIN_KEY} }
pool: { minPoolSize: 1, maxPoolSize: 4, healthCheckInterval: 1h, cleanupInterval: 1h }
routing: { retryBackoffInitial: 1ms, retryBackoffMax: 2ms, circuitConsecutiveFailures: 2, circuitCooldown: 10m }
providers:
  fast: { type: mock, apiKey: ${PROVIDER_SECRET}, mock: { latency: 2ms, chunks: 3, chunkDelay: 2ms } }
  broken: { type: mock, mock: { failRate: 1, failStatus: 500 } }
  slow: { type: mock, mock: { latency: 1500ms } }
  sick: { type: mock, mock: { unhealthy: true } }
models:
  chat:
    providers: [{ provider: fast, model: up-chat }]
  flaky:
    strategy: failover
    providers:
      - { provider: broken, model: up-flaky, priority: 0 }
      - { provider: fast, model: up-flaky, priority: 1 }
  tiny:
    providers: [{ provider: slow, model: up-tiny, pool: { minPoolSize: 0, maxPoolSize: 1, acquireTimeout: 100ms } }]
  ill:
    providers: [{ provider: sick, model: up-ill }]
`;

/**
 * Every label value comes from the config or is a fixed placeholder: `model` is the gateway model
 * on request series ("unknown" when not configured) and the upstream id on pool series;
 * `upstream_model` / `provider` are "none" when no deployment was reached; `key` "anonymous".
 */
const CONFIGURED = {
  model: new Set(['chat', 'flaky', 'tiny', 'ill', 'unknown', 'up-chat', 'up-flaky', 'up-tiny', 'up-ill']),
  upstream_model: new Set(['up-chat', 'up-flaky', 'up-tiny', 'up-ill', 'none']),
  provider: new Set(['fast', 'broken', 'slow', 'sick', 'none']),
  key: new Set(['anonymous']),
};

interface Running {
  gw: Gateway;
  url: string;
  logs: string[];
}

const LEDGER_DIR = mkdtempSync(join(tmpdir(), 'ap-metrics-'));
let ledgers = 0;
after(() => rmSync(LEDGER_DIR, { recursive: true, force: true }));

async function start(yaml: string): Promise<Running> {
  const config = parseConfig(yaml, { source: 'metrics-test.yaml', env: {}, providerTypes: PROVIDER_TYPES });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  // Keep the default ledger (./adapterpool-usage.db) out of the checkout.
  if (config.usage.path === './adapterpool-usage.db') config.usage.path = join(LEDGER_DIR, `usage-${ledgers++}.db`);
  const gw = await buildGateway(config, { logger: createLogger('info', sink) });
  const url = await gw.listen({ port: 0 });
  return { gw, url, logs };
}

async function chat(url: string, model: string, options: { stream?: boolean; key?: string } = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${options.key ?? API_KEY}` },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: PROMPT }], stream: options.stream === true }),
  });
  return { status: res.status, text: await res.text() };
}

/** `key`: null = send none. */
async function get(url: string, path: string, key: string | null = API_KEY): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(url + path, { headers: key === null ? {} : { authorization: `Bearer ${key}` } });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse the Prometheus text format (what a scraper does). */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the samples of `name` whose labels include `match`. */
function total(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

function has(samples: Sample[], name: string, match: Record<string, string> = {}): boolean {
  return samples.some((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

async function scrape(url: string): Promise<Sample[]> {
  const r = await get(url, '/metrics');
  assert.equal(r.status, 200, r.text);
  assert.match(r.type ?? '', /^text\/plain; version=0\.0\.4/);
  return parseMetrics(r.text);
}

describe('GET /metrics', () => {
  let g: Running;
  let before0: Sample[];
  let rawAfter: string;
  let afterTraffic: Sample[];

  before(async () => {
    g = await start(YAML);
    before0 = await scrape(g.url);
    // Traffic: completions, a stream, an unknown model, a failing deployment that fails over,
    // two calls racing for a one-adapter pool (the second times out waiting), a health check.
    for (let i = 0; i < 3; i++) assert.equal((await chat(g.url, 'chat')).status, 200);
    assert.equal((await chat(g.url, 'chat', { stream: true })).status, 200);
    assert.equal((await chat(g.url, 'no-such-model')).status, 404);
    assert.equal((await chat(g.url, 'flaky')).status, 200);
    assert.equal((await chat(g.url, 'flaky')).status, 200);
    const [a, b] = await Promise.all([chat(g.url, 'tiny'), chat(g.url, 'tiny')]);
    assert.deepEqual([a.status, b.status].sort(), [200, 503]);
    const hc = await fetch(`${g.url}/v1/pool/health-check`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    assert.equal(hc.status, 200);
    const r = await get(g.url, '/metrics');
    rawAfter = r.text;
    afterTraffic = parseMetrics(rawAfter);
  });
  after(() => g.gw.close(2000));

  it('needs the read key, like GET /v1/pool/*', async () => {
    assert.equal((await get(g.url, '/metrics', null)).status, 401);
    assert.equal((await get(g.url, '/metrics', 'wrong')).status, 401);
    assert.equal((await get(g.url, '/metrics', ADMIN_KEY)).status, 200);
  });

  it('has the pool gauges of every configured model:provider, from pool.stats()', () => {
    for (const [model, provider] of [['up-chat', 'fast'], ['up-flaky', 'broken'], ['up-flaky', 'fast'], ['up-tiny', 'slow'], ['up-ill', 'sick']] as const) {
      for (const name of ['pool_adapters', 'pool_adapters_available', 'pool_adapters_in_use', 'pool_adapters_unhealthy', 'pool_waiters', 'pool_max_size', 'pool_utilization_ratio', 'pool_health_ratio', 'circuit_state']) {
        assert.ok(has(afterTraffic, `adapterpool_${name}`, { upstream_model: model, provider }), `adapterpool_${name}{${model},${provider}}`);
      }
    }
    const stats = g.gw.pool.stats().pools;
    assert.equal(total(afterTraffic, 'adapterpool_pool_adapters', { upstream_model: 'up-chat', provider: 'fast' }), stats['up-chat:fast']!.total);
    assert.equal(total(afterTraffic, 'adapterpool_pool_max_size', { upstream_model: 'up-tiny', provider: 'slow' }), 1);
    // The sick provider's adapter failed its health check: unhealthy, health 0.
    assert.equal(total(afterTraffic, 'adapterpool_pool_adapters_unhealthy', { upstream_model: 'up-ill', provider: 'sick' }), 1);
    assert.equal(total(afterTraffic, 'adapterpool_pool_health_ratio', { upstream_model: 'up-ill', provider: 'sick' }), 0);
    assert.equal(total(afterTraffic, 'adapterpool_pool_health_ratio', { upstream_model: 'up-chat', provider: 'fast' }), 1);
  });

  it('counts acquires, creates, requests by status, retries, failovers, circuit opens, timeouts and health checks', () => {
    const moved = (name: string, match: Record<string, string>): number => total(afterTraffic, name, match) - total(before0, name, match);
    const chatKey = { upstream_model: 'up-chat', provider: 'fast' };
    assert.equal(moved('adapterpool_pool_acquires_total', chatKey), 4);
    assert.ok(total(afterTraffic, 'adapterpool_pool_creates_total', chatKey) >= 1);
    assert.equal(moved('adapterpool_requests_total', { model: 'chat', upstream_model: 'up-chat', provider: 'fast', status: '200' }), 4);
    assert.equal(moved('adapterpool_requests_total', { model: 'unknown', upstream_model: 'none', provider: 'none', status: '404' }), 1);
    assert.equal(moved('adapterpool_requests_total', { model: 'flaky', upstream_model: 'up-flaky', provider: 'fast', status: '200' }), 2);
    assert.equal(moved('adapterpool_requests_total', { model: 'tiny', status: '503' }), 1);
    // The broken deployment: retried once, then failed over; its circuit opened after 2 failures,
    // so the second request skipped it (a failover for circuit_open).
    const broken = { upstream_model: 'up-flaky', provider: 'broken' };
    assert.ok(moved('adapterpool_retries_total', broken) >= 1);
    assert.ok(moved('adapterpool_failovers_total', { ...broken, reason: 'error' }) >= 1);
    assert.equal(moved('adapterpool_circuit_opens_total', broken), 1);
    assert.equal(total(afterTraffic, 'adapterpool_circuit_state', broken), 2);
    assert.equal(total(afterTraffic, 'adapterpool_circuit_state', chatKey), 0);
    assert.equal(moved('adapterpool_pool_acquire_timeouts_total', { upstream_model: 'up-tiny', provider: 'slow' }), 1);
    assert.ok(moved('adapterpool_pool_health_checks_total', { ...chatKey, result: 'healthy' }) >= 1);
    assert.ok(moved('adapterpool_pool_health_checks_total', { upstream_model: 'up-ill', provider: 'sick', result: 'unhealthy' }) >= 1);
    // Every destroy reason exists from the start (rate() works at once).
    for (const reason of ['expired_uses', 'expired_idle', 'expired_lifetime', 'unhealthy', 'evicted', 'closed', 'late_create']) {
      assert.ok(has(before0, 'adapterpool_pool_destroys_total', { ...chatKey, reason }), reason);
    }
  });

  it('fills the histograms: acquire wait, upstream latency (completion and stream), time to first token', () => {
    const chatKey = { upstream_model: 'up-chat', provider: 'fast' };
    assert.equal(total(afterTraffic, 'adapterpool_pool_acquire_wait_seconds_count', chatKey), 4);
    assert.equal(total(afterTraffic, 'adapterpool_upstream_latency_seconds_count', { ...chatKey, stream: 'false' }), 3);
    assert.equal(total(afterTraffic, 'adapterpool_upstream_latency_seconds_count', { ...chatKey, stream: 'true' }), 1);
    assert.equal(total(afterTraffic, 'adapterpool_time_to_first_token_seconds_count', chatKey), 1);
    assert.ok(total(afterTraffic, 'adapterpool_upstream_latency_seconds_sum', { ...chatKey, stream: 'false' }) > 0);
    // The +Inf bucket equals the count.
    assert.equal(
      total(afterTraffic, 'adapterpool_time_to_first_token_seconds_bucket', { ...chatKey, le: '+Inf' }),
      total(afterTraffic, 'adapterpool_time_to_first_token_seconds_count', chatKey),
    );
    // The waiter of the one-adapter pool waited before timing out; the other one got it at once.
    assert.equal(total(afterTraffic, 'adapterpool_pool_acquire_wait_seconds_count', { upstream_model: 'up-tiny', provider: 'slow' }), 1);
  });

  it('has the seed\'s metrics: utilization and health per pool; response time and success as windowable counters and histograms', () => {
    const chatKey = { upstream_model: 'up-chat', provider: 'fast' };
    assert.ok(has(afterTraffic, 'adapterpool_pool_utilization_ratio', chatKey));
    // Mean response time: rate(_sum) / rate(_count) of the upstream latency histogram.
    assert.ok(total(afterTraffic, 'adapterpool_upstream_latency_seconds_sum', chatKey) > 0);
    assert.equal(total(afterTraffic, 'adapterpool_upstream_latency_seconds_count', chatKey), 4);
    // Success rate: successful calls (the latency histogram's count) against failed ones (upstream_errors_total).
    assert.equal(total(afterTraffic, 'adapterpool_upstream_errors_total', chatKey), 0);
    // The broken deployment failed every call it made, and made none that succeeded.
    const broken = { upstream_model: 'up-flaky', provider: 'broken' };
    assert.ok(total(afterTraffic, 'adapterpool_upstream_errors_total', { ...broken, class: 'server_error' }) >= 2);
    assert.equal(total(afterTraffic, 'adapterpool_upstream_latency_seconds_count', broken), 0);
    // The lifetime averages (gauges nothing can window) are gone from /metrics; the JSON endpoints keep the seed's numbers.
    for (const name of ['pool_mean_response_seconds', 'pool_success_ratio', 'adapter_mean_response_seconds', 'adapter_success_ratio', 'adapter_requests']) {
      assert.ok(!has(afterTraffic, `adapterpool_${name}`), name);
    }
  });

  it('takes label values from the config only, and shows no key and no prompt', () => {
    for (const s of afterTraffic) {
      for (const name of ['model', 'upstream_model', 'provider', 'key'] as const) {
        if (s.labels[name] !== undefined) assert.ok(CONFIGURED[name].has(s.labels[name]), `${s.name}: ${name}="${s.labels[name]}" is not from the config`);
      }
      if (s.labels.status !== undefined) assert.match(s.labels.status, /^\d{3}$/);
      for (const [k, v] of Object.entries(s.labels)) {
        assert.doesNotMatch(v, /req-|Zanzibar|no-such-model/);
        assert.notEqual(v, '', `${s.name}: ${k} is empty`);
      }
      assert.equal(s.labels.route, undefined, `${s.name}: the route label is now model`);
    }
    assert.ok(!rawAfter.includes(PROVIDER_SECRET), 'the provider key is not in /metrics');
    assert.ok(!rawAfter.includes(API_KEY) && !rawAfter.includes(ADMIN_KEY));
    assert.ok(!rawAfter.includes('Zanzibar'));
    // Process metrics under prom-client's standard names, so the usual Node.js dashboards work.
    assert.ok(has(afterTraffic, 'process_cpu_user_seconds_total'));
    assert.ok(has(afterTraffic, 'nodejs_eventloop_lag_seconds'));
    assert.ok(!afterTraffic.some((s) => s.name.startsWith('adapterpool_process_') || s.name.startsWith('adapterpool_nodejs_')));
  });

  it('adapterpool_request_duration_seconds: every request end to end, whatever its outcome', () => {
    const count = (match: Record<string, string>) => total(afterTraffic, 'adapterpool_request_duration_seconds_count', match) - total(before0, 'adapterpool_request_duration_seconds_count', match);
    assert.equal(count({}), 9, '4 chat, 1 unknown model, 2 flaky, 2 tiny');
    assert.equal(count({ model: 'chat', upstream_model: 'up-chat', provider: 'fast', stream: 'false' }), 3);
    assert.equal(count({ model: 'chat', stream: 'true' }), 1);
    assert.equal(count({ model: 'unknown', upstream_model: 'none', provider: 'none' }), 1, 'an unknown model is timed too');
    assert.equal(count({ model: 'tiny', provider: 'none' }), 1, 'the request that found every adapter busy is timed too');
    // The request that waited for the one slow adapter (1.5 s) lands in a bucket above 1 s.
    assert.equal(total(afterTraffic, 'adapterpool_request_duration_seconds_bucket', { model: 'tiny', provider: 'slow', le: '1' }), 0);
    assert.equal(total(afterTraffic, 'adapterpool_request_duration_seconds_bucket', { model: 'tiny', provider: 'slow', le: '+Inf' }), 1);
  });

  it('requests no deployment was reached for are labelled upstream_model="none", provider="none" (not empty)', () => {
    assert.equal(total(afterTraffic, 'adapterpool_requests_total', { model: 'tiny', upstream_model: 'none', provider: 'none', status: '503' }), 1);
    assert.ok(!afterTraffic.some((s) => Object.values(s.labels).includes('')), 'no empty label value');
  });

  it('bug: label model held the upstream id on pool and deployment series and the gateway model on request series: the upstream id is upstream_model everywhere', () => {
    const request = new Set(['adapterpool_requests_total', 'adapterpool_request_duration_seconds_bucket', 'adapterpool_request_duration_seconds_sum', 'adapterpool_request_duration_seconds_count', 'adapterpool_tokens_total']);
    const perDeployment = afterTraffic.filter((s) => s.labels.provider !== undefined && !request.has(s.name));
    assert.ok(perDeployment.length > 50, 'pool and deployment series found');
    const upstreamIds = new Set(['up-chat', 'up-flaky', 'up-tiny', 'up-ill']);
    for (const s of perDeployment) {
      assert.equal(s.labels.model, undefined, `${s.name}${JSON.stringify(s.labels)}: "model" is the gateway model's label`);
      assert.ok(upstreamIds.has(s.labels.upstream_model!), `${s.name}${JSON.stringify(s.labels)}: the upstream id as upstream_model`);
    }
    // Joinable with the request series on (upstream_model, provider).
    assert.ok(has(afterTraffic, 'adapterpool_pool_adapters', { upstream_model: 'up-chat', provider: 'fast' }));
    assert.ok(has(afterTraffic, 'adapterpool_requests_total', { model: 'chat', upstream_model: 'up-chat', provider: 'fast' }));
  });

  it('adapterpool_tokens_total{model,provider,key,type}: the tokens the upstream reported, key "anonymous" without a named key', () => {
    const lines = g.logs.map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l.msg === 'chat completion' && l.model === 'chat' && l.tokens !== undefined);
    const prompt = lines.reduce((a, l) => a + l.tokens.prompt, 0);
    const completion = lines.reduce((a, l) => a + l.tokens.completion, 0);
    assert.ok(prompt > 0 && completion > 0);
    assert.equal(total(afterTraffic, 'adapterpool_tokens_total', { model: 'chat', provider: 'fast', key: 'anonymous', type: 'prompt' }), prompt);
    assert.equal(total(afterTraffic, 'adapterpool_tokens_total', { model: 'chat', provider: 'fast', key: 'anonymous', type: 'completion' }), completion);
  });

  it('writes one structured line per request: request id, model, deployment, attempts, status, latency, tokens; no secret, no prompt', () => {
    const lines = g.logs.map((l) => JSON.parse(l) as Record<string, any>);
    const done = lines.filter((l) => l.msg === 'chat completion' || l.msg === 'chat completion failed');
    assert.equal(done.length, 9); // 4 chat, 1 unknown model, 2 flaky, 2 tiny
    const ok = done.find((l) => l.model === 'chat' && l.stream === false)!;
    assert.match(ok.reqId, /\S/);
    assert.equal(ok.deployment, 'up-chat:fast');
    assert.equal(ok.attempts, 1);
    assert.equal(ok.status, 200);
    assert.equal(typeof ok.latency_ms, 'number');
    assert.ok(ok.tokens.total > 0 && ok.tokens.prompt > 0);
    const streamed = done.find((l) => l.model === 'chat' && l.stream === true)!;
    assert.equal(streamed.status, 200);
    assert.ok(streamed.tokens === undefined || streamed.tokens.total > 0);
    const flaky = done.find((l) => l.model === 'flaky')!;
    assert.equal(flaky.deployment, 'up-flaky:fast');
    assert.ok(flaky.attempts >= 2, 'the failed attempts on the broken deployment count');
    const busy = done.find((l) => l.model === 'tiny' && l.status === 503)!;
    assert.equal(busy.deployment, null);
    assert.equal(busy.msg, 'chat completion failed');
    const unknown = done.find((l) => l.status === 404)!;
    assert.equal(unknown.error, 'model_not_found');
    assert.equal(new Set(done.map((l) => l.reqId)).size, done.length, 'one line per request');
    const all = g.logs.join('');
    assert.ok(!all.includes(PROVIDER_SECRET), 'no provider key in the logs');
    assert.ok(!all.includes(API_KEY) && !all.includes(ADMIN_KEY), 'no client key in the logs');
    assert.ok(!all.includes('Zanzibar'), 'no prompt text in the logs');
    // The seed's pool lines are there.
    assert.ok(lines.some((l) => l.component === 'pool' && typeof l.msg === 'string' && l.msg.includes('适配器池')));
  });

  it('GET /v1/pool/stats?detail=true carries mean latency and success rate per adapter', async () => {
    const r = await get(g.url, '/v1/pool/stats?detail=true');
    assert.equal(r.status, 200);
    const body = JSON.parse(r.text);
    assert.equal(body.success, true);
    const pool = body.data.pools['up-chat:fast'];
    assert.equal(typeof pool.utilization_rate, 'number');
    assert.equal(typeof pool.health_rate, 'number');
    assert.ok(pool.adapters.length >= 1);
    for (const a of pool.adapters) {
      assert.equal(typeof a.mean_latency_ms, 'number');
      assert.equal(typeof a.success_rate, 'number');
    }
    const used = pool.adapters.filter((a: any) => a.requests > 0);
    assert.ok(used.length >= 1);
    assert.ok(used.every((a: any) => a.mean_latency_ms > 0 && a.success_rate === 1));
    const broken = body.data.pools['up-flaky:broken'].adapters.filter((a: any) => a.requests > 0);
    assert.ok(broken.every((a: any) => a.success_rate === 0));
  });

  it('GET /v1/pool/deployments: circuit, requests and success per deployment, in the seed\'s envelope', async () => {
    assert.equal((await get(g.url, '/v1/pool/deployments', null)).status, 401);
    const r = await get(g.url, '/v1/pool/deployments');
    assert.equal(r.status, 200);
    const body = JSON.parse(r.text);
    assert.equal(body.success, true);
    assert.equal(typeof body.message, 'string');
    assert.deepEqual(
      body.data.models.map((m: any) => m.name),
      ['chat', 'flaky', 'tiny', 'ill'],
    );
    const byKey = new Map(body.data.deployments.map((d: any) => [d.key, d]));
    const broken: any = byKey.get('up-flaky:broken');
    assert.equal(broken.circuit, 'open');
    assert.ok(broken.retry_after_ms > 0);
    const fast: any = byKey.get('up-chat:fast');
    assert.equal(fast.circuit, 'closed');
    assert.equal(fast.requests, 4);
    assert.equal(fast.ok, 4);
    assert.equal(fast.success_rate, 1);
    assert.ok(fast.mean_latency_ms > 0);
    assert.ok(!r.text.includes(PROVIDER_SECRET));
  });

  it('GET /dashboard is one self-contained page (no external resources)', async () => {
    const r = await get(g.url, '/dashboard', null);
    assert.equal(r.status, 200);
    assert.match(r.type ?? '', /^text\/html/);
    assert.match(r.text, /<title>adapterpool dashboard<\/title>/);
    assert.doesNotMatch(r.text, /<(script|link|img)[^>]+(src|href)=["']?(https?:)?\/\//i, 'no CDN');
    assert.ok(r.text.includes('/v1/pool/deployments') && r.text.includes('/v1/pool/health-check'));
  });
});

describe('metrics per gateway', () => {
  let a: Running;
  let b: Running;
  before(async () => {
    a = await start(YAML);
    b = await start(
      YAML.replace('server: { host: 127.0.0.1, port: 0 }', 'server: { host: 127.0.0.1, port: 0 }\nlogging: { logPrompts: true }\nmetrics: { enabled: false }'),
    );
  });
  after(async () => {
    await a.gw.close(2000);
    await b.gw.close(2000);
  });

  it('two gateways in one process have their own registries', async () => {
    assert.notEqual(a.gw.metrics.registry, b.gw.metrics.registry);
    await chat(a.url, 'chat');
    await chat(a.url, 'chat');
    await chat(b.url, 'chat');
    const sa = await scrape(a.url);
    assert.equal(total(sa, 'adapterpool_requests_total', { model: 'chat', status: '200' }), 2);
    const sb = parseMetrics(await b.gw.metrics.render());
    assert.equal(total(sb, 'adapterpool_requests_total', { model: 'chat', status: '200' }), 1);
  });

  it('metrics.enabled: false removes GET /metrics; logging.logPrompts: true adds the messages to the line', async () => {
    assert.equal((await get(b.url, '/metrics')).status, 404);
    await chat(b.url, 'chat');
    const line = b.logs.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.msg === 'chat completion')!;
    assert.deepEqual(line.messages, [{ role: 'user', content: PROMPT }]);
    assert.ok(!b.logs.join('').includes(PROVIDER_SECRET));
  });
});

describe('dashboard data: models that share a deployment, models that fail', () => {
  let g: Running;
  const yaml = `
server: { host: 127.0.0.1, port: 0 }
auth: { apiKeys: [${API_KEY}] }
pool: { minPoolSize: 1, maxPoolSize: 2, healthCheckInterval: 1h, cleanupInterval: 1h }
routing: { retryBackoffInitial: 1ms, retryBackoffMax: 2ms, circuitConsecutiveFailures: 50 }
providers:
  fast: { type: mock, mock: { latency: 2ms } }
  broken: { type: mock, mock: { failRate: 1, failStatus: 500 } }
  broken2: { type: mock, mock: { failRate: 1, failStatus: 500 } }
models:
  alpha:
    providers: [{ provider: fast, model: shared-up, priority: 0, weight: 3 }]
  beta:
    providers: [{ provider: fast, model: shared-up, priority: 2, weight: 1 }]
  doomed:
    strategy: failover
    providers:
      - { provider: broken, model: up-doomed, priority: 0 }
      - { provider: broken2, model: up-doomed, priority: 1 }
`;
  before(async () => {
    g = await start(yaml);
  });
  after(() => g.gw.close(2000));

  it('bug: a deployment listed under two models was shown twice with the same numbers and the first model\'s priority', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await chat(g.url, 'alpha')).status, 200);
    assert.equal((await chat(g.url, 'beta')).status, 200);
    const body = JSON.parse((await get(g.url, '/v1/pool/deployments')).text);
    const rows = body.data.deployments.filter((d: any) => d.key === 'shared-up:fast');
    assert.equal(rows.length, 2, 'one row per model that lists it');
    const alpha = rows.find((d: any) => d.gateway_model === 'alpha');
    const beta = rows.find((d: any) => d.gateway_model === 'beta');
    assert.deepEqual([alpha.requests, alpha.ok, alpha.priority, alpha.weight], [2, 2, 0, 3]);
    assert.deepEqual([beta.requests, beta.ok, beta.priority, beta.weight], [1, 1, 2, 1]);
    assert.deepEqual(alpha.shared_with, ['beta']);
    assert.deepEqual(beta.shared_with, ['alpha']);
    // What belongs to the deployment (its pool, its circuit) is the same in both rows.
    assert.equal(alpha.upstream_calls, 3);
    assert.equal(beta.upstream_calls, 3);
    assert.equal(alpha.circuit, beta.circuit);
    const models = new Map(body.data.models.map((m: any) => [m.name, m]));
    assert.equal((models.get('alpha') as any).requests, 2);
    assert.equal((models.get('beta') as any).requests, 1);
    // The charts keep the models apart too, and count the deployment once per request.
    const h = JSON.parse((await get(g.url, '/v1/pool/history')).text).data;
    assert.equal(h.models.alpha.totals.requests, 2);
    assert.equal(h.models.beta.totals.requests, 1);
    assert.equal(h.deployments['shared-up:fast'].totals.requests, 3, 'the deployment has both models\' requests');
  });

  it('bug: requests that failed on every deployment were counted with empty model/provider labels and appeared nowhere on the dashboard', async () => {
    const r = await chat(g.url, 'doomed');
    assert.equal(r.status, 502);
    const samples = await scrape(g.url);
    assert.ok(!samples.some((s) => Object.values(s.labels).includes('')), 'no empty label value');
    // Counted under its model and the last deployment it tried (failover: broken twice, then broken2 twice).
    assert.equal(total(samples, 'adapterpool_requests_total', { model: 'doomed', upstream_model: 'up-doomed', provider: 'broken2', status: '502' }), 1);
    assert.equal(total(samples, 'adapterpool_upstream_errors_total', { upstream_model: 'up-doomed', class: 'server_error' }), 4, 'every failed call, by class');
    // The dashboard's data: the model's row and the gateway's window show the failure.
    const body = JSON.parse((await get(g.url, '/v1/pool/deployments')).text).data;
    const doomed = body.models.find((m: any) => m.name === 'doomed');
    assert.deepEqual([doomed.requests, doomed.ok, doomed.failed, doomed.error_rate], [1, 0, 1, 1]);
    assert.equal(doomed.window.failed, 1);
    assert.equal(doomed.window.errors.server_error, 1);
    assert.ok(body.window.failed >= 1 && body.window.error_rate > 0);
    const last = body.deployments.find((d: any) => d.key === 'up-doomed:broken2');
    assert.equal(last.failed, 1);
    const h = JSON.parse((await get(g.url, '/v1/pool/history')).text).data;
    assert.ok(h.models.doomed.requests_per_s['5xx'].some((v: number) => v > 0));
    assert.ok(h.models.doomed.errors_per_s.server_error.some((v: number) => v > 0));
    assert.ok(h.deployments['up-doomed:broken'].errors_per_s.server_error.some((v: number) => v > 0), 'the first deployment\'s failed calls are charted on it');
  });

  it('GET /v1/pool/history needs the read key and answers in the seed\'s envelope', async () => {
    assert.equal((await get(g.url, '/v1/pool/history', null)).status, 401);
    const body = JSON.parse((await get(g.url, '/v1/pool/history')).text);
    assert.equal(body.success, true);
    assert.equal(body.message, '获取历史数据成功');
    assert.equal(body.data.window_ms, 15 * 60_000);
    assert.equal(body.data.step_ms, 5000);
    assert.equal(body.data.times.length, 180);
    assert.equal(body.data.all.requests_per_s['2xx'].length, 180);
    assert.deepEqual(Object.keys(body.data.models), ['alpha', 'beta', 'doomed']);
  });
});

describe('counter and histogram families (the request path\'s metrics)', () => {
  it('render like prom-client: cumulative buckets with an inclusive upper bound, +Inf, _sum, _count', async () => {
    const registry = new Registry();
    const h = new HistogramFamily(registry, 't_seconds', 'help', ['model'], [0.1, 1, 0.5]);
    const c = new CounterFamily(registry, 't_total', 'help "quoted"', ['model', 'status']);
    const child = h.child('m"x');
    for (const v of [0.05, 0.1, 0.3, 0.5, 2]) child.observe(v);
    assert.equal(h.child('m"x'), child, 'one child per label set');
    c.child('a', '200').inc();
    c.child('a', '200').inc(2);
    c.child('a', '500');
    const samples = parseMetrics(await registry.metrics());
    const le = (b: string) => total(samples, 't_seconds_bucket', { le: b });
    assert.deepEqual([le('0.1'), le('0.5'), le('1'), le('+Inf')], [2, 4, 4, 5]);
    assert.equal(total(samples, 't_seconds_count'), 5);
    assert.ok(Math.abs(total(samples, 't_seconds_sum') - 2.95) < 1e-9);
    assert.equal(samples.find((s) => s.name === 't_seconds_count')!.labels.model, 'm\\"x', 'label values are escaped');
    assert.equal(total(samples, 't_total', { status: '200' }), 3);
    assert.ok(has(samples, 't_total', { status: '500' }), 'a child exists (at 0) once created');
    assert.throws(() => c.child('only-one'), /expected 2 label values/);
    registry.resetMetrics();
    const zeroed = parseMetrics(await registry.metrics());
    assert.equal(total(zeroed, 't_total'), 0);
    assert.equal(total(zeroed, 't_seconds_count'), 0);
  });
});
