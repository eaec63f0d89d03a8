import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, startGateway, type RunningGateway } from './helpers.js';

const CONFIG = `pool: { maxPoolSize: 4, minPoolSize: 2 }
providers:
  Volcengine: { type: mock }
  other: { type: mock }
models:
  doubao-seed-1-6-flash-250715: { providers: [{ provider: Volcengine }] }
  second: { providers: [{ provider: other, model: "llama3:8b", pool: { maxPoolSize: 3, minPoolSize: 1 } }] }
`;

const SEED_ENTRY_FIELDS = ['total', 'available', 'in_use', 'unhealthy', 'expired', 'max_pool_size', 'min_pool_size'];
const SEED_STATUS_FIELDS = ['total_pools', 'total_adapters', 'available_adapters', 'in_use_adapters', 'unhealthy_adapters', 'utilization_rate', 'health_rate'];

describe('pool endpoints: the seed envelopes', () => {
  let g: RunningGateway;
  before(async () => {
    g = await startGateway(CONFIG);
    // One request so one adapter has counters.
    const r = await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'doubao-seed-1-6-flash-250715', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(r.status, 200);
  });
  after(() => g.close());

  test('GET /v1/pool/stats', async () => {
    const r = await call(g.url, 'GET', '/v1/pool/stats');
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json), ['success', 'data', 'message']);
    assert.equal(r.json.success, true);
    assert.equal(r.json.message, '获取适配器池统计信息成功');
    assert.equal(r.json.data.total_pools, 2);
    const entry = r.json.data.pools['doubao-seed-1-6-flash-250715:Volcengine'];
    for (const f of SEED_ENTRY_FIELDS) assert.equal(typeof entry[f], 'number', f);
    assert.equal(entry.total, 2);
    assert.equal(entry.in_use, 0);
    assert.equal(entry.max_pool_size, 4);
    assert.equal(entry.min_pool_size, 2);
    const other = r.json.data.pools['llama3:8b:other'];
    assert.equal(other.max_pool_size, 3, 'the per-deployment override applies');
    assert.equal(other.min_pool_size, 1);
    assert.equal(entry.adapters, undefined);
  });

  test('GET /v1/pool/stats?detail=true adds one row per adapter', async () => {
    const r = await call(g.url, 'GET', '/v1/pool/stats?detail=true');
    assert.equal(r.status, 200);
    const rows = r.json.data.pools['doubao-seed-1-6-flash-250715:Volcengine'].adapters;
    assert.equal(rows.length, 2);
    for (const row of rows) {
      for (const f of ['id', 'state', 'use_count', 'last_used_at', 'mean_latency_ms', 'success_rate']) assert.ok(f in row, f);
      assert.equal(row.state, 'idle');
    }
    const used = rows.filter((row: any) => row.use_count > 0);
    assert.equal(used.length, 1);
    assert.equal(typeof used[0].last_used_at, 'number');
    assert.equal(used[0].success_rate, 1);
    assert.ok(used[0].mean_latency_ms >= 0);
    // A model id with ':' is split on the configured key, not guessed.
    assert.equal(r.json.data.pools['llama3:8b:other'].adapters.length, 1);
  });

  test('GET /v1/pool/status', async () => {
    const r = await call(g.url, 'GET', '/v1/pool/status');
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.json), ['success', 'data', 'message']);
    assert.equal(r.json.success, true);
    assert.equal(r.json.message, '获取适配器池状态成功');
    for (const f of SEED_STATUS_FIELDS) assert.equal(typeof r.json.data[f], 'number', f);
    assert.equal(r.json.data.total_pools, 2);
    assert.equal(r.json.data.total_adapters, 3);
    assert.equal(r.json.data.in_use_adapters, 0);
    assert.equal(r.json.data.utilization_rate, 0);
    assert.equal(r.json.data.health_rate, 100);
  });

  test('GET /v1/pool/status?scope=cluster in a single process: this process alone, not clustered', async () => {
    const r = await call(g.url, 'GET', '/v1/pool/status?scope=cluster');
    assert.equal(r.status, 200);
    assert.equal(r.json.data.scope, 'cluster');
    assert.equal(r.json.data.clustered, false);
    assert.equal(r.json.data.replica_id, null);
    assert.equal(r.json.data.mode, 'local');
    assert.deepEqual(r.json.data.replicas.map((x: any) => [x.id, x.self]), [['local', true]]);
    assert.equal(r.json.data.total_pools, 2);
  });

  test('POST /v1/pool/cleanup runs now and says what it did', async () => {
    const r = await call(g.url, 'POST', '/v1/pool/cleanup');
    assert.equal(r.status, 200);
    assert.equal(r.json.success, true);
    assert.equal(r.json.message, '适配器池清理完成');
    for (const f of ['removed', 'expired', 'unhealthy', 'created']) assert.equal(typeof r.json.data[f], 'number', f);
  });

  test('POST /v1/pool/health-check runs now and says what it did', async () => {
    const r = await call(g.url, 'POST', '/v1/pool/health-check');
    assert.equal(r.status, 200);
    assert.equal(r.json.success, true);
    assert.equal(r.json.message, '适配器池健康检查完成');
    assert.equal(r.json.data.checked, 3);
    assert.equal(r.json.data.healthy, 3);
    assert.equal(r.json.data.unhealthy, 0);
  });

  test('POST /v1/pool/cleanup and /v1/pool/health-check with content-type: application/json and no body answer 400', async () => {
    for (const path of ['/v1/pool/cleanup', '/v1/pool/health-check']) {
      const r = await call(g.url, 'POST', path, { headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 200, `${path}: ${r.text}`);
      assert.equal(r.json.success, true, path);
    }
    // A body that is there must still be JSON.
    const bad = await call(g.url, 'POST', '/v1/pool/cleanup', { rawBody: '{nope' });
    assert.equal(bad.status, 400);
  });

  test('a bad query or body on the seed endpoints answered in OpenAI\'s error shape: the envelope, success:false, with the error beside it', async () => {
    const cases: Array<[string, string, Record<string, unknown>, RegExp]> = [
      ['GET', '/v1/pool/stats?detail=yes', {}, /^获取适配器池统计信息失败: .*detail/],
      ['GET', '/v1/pool/status?scope=galaxy', {}, /^获取适配器池状态失败: .*scope/],
      ['POST', '/v1/pool/cleanup', { rawBody: '{nope' }, /^适配器池清理失败: /],
      ['POST', '/v1/pool/health-check', { rawBody: '[1,' }, /^适配器池健康检查失败: /],
      // Valid JSON with a key the parser refuses: told as what it is, not as "not valid JSON".
      ['POST', '/v1/pool/cleanup', { rawBody: '{"__proto__":{"x":1}}' }, /^适配器池清理失败: .*"__proto__" key/],
    ];
    for (const [method, path, options, message] of cases) {
      const r = await call(g.url, method, path, options);
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.equal(r.json.success, false, path);
      assert.equal(r.json.data, null, path);
      assert.match(r.json.message, message, path);
      assert.equal(r.json.error.type, 'invalid_request_error', path);
    }
  });

  test('a failing operation answers success:false', async () => {
    const original = g.gw.pool.cleanup.bind(g.gw.pool);
    g.gw.pool.cleanup = async () => {
      throw new Error('disk on fire');
    };
    try {
      const r = await call(g.url, 'POST', '/v1/pool/cleanup');
      assert.equal(r.status, 500);
      assert.equal(r.json.success, false);
      assert.equal(r.json.data, null);
      assert.match(r.json.message, /^适配器池清理失败/);
    } finally {
      g.gw.pool.cleanup = original;
    }
  });

  test('GET /health and /ready', async () => {
    assert.deepEqual((await call(g.url, 'GET', '/health')).json, { status: 'ok' });
    assert.deepEqual((await call(g.url, 'GET', '/ready')).json, { status: 'ready' });
  });
});
