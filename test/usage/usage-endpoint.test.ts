import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call } from '../server/helpers.js';
import { startKeyedGateway } from '../server/keys-helpers.js';

const A = 'sk-team-a-key';
const B = 'sk-team-b-key';
const ADMIN = 'sk-admin';

describe('GET /v1/usage', () => {
  let g: Awaited<ReturnType<typeof startKeyedGateway>>;
  before(async () => {
    g = await startKeyedGateway(`auth:
  adminKey: "${ADMIN}"
  keys:
    - { name: team-a, key: "${A}" }
    - { name: team-b, key: "${B}", models: [chat] }
usage: { flushInterval: 50ms }
providers:
  m: { type: mock }
  n: { type: mock }
models:
  chat:
    pricing: { input: 1, output: 2 }
    providers: [{ provider: m, model: mock-chat }]
  other: { providers: [{ provider: n, model: mock-chat }] }
`);
    const send = (key: string, model: string) => call(g.url, 'POST', '/v1/chat/completions', { key, body: { model, messages: [{ role: 'user', content: 'count me' }] } });
    for (let i = 0; i < 3; i++) assert.equal((await send(A, 'chat')).status, 200);
    assert.equal((await send(A, 'other')).status, 200);
    assert.equal((await send(B, 'chat')).status, 200);
    assert.equal((await send(B, 'other')).status, 404); // outside its models: a row with status 404
  });
  after(() => g.close());

  test('the admin key sees every key, in the seed\'s envelope', async () => {
    const r = await call(g.url, 'GET', '/v1/usage?group_by=key', { key: ADMIN });
    assert.equal(r.status, 200);
    assert.equal(r.json.success, true);
    assert.equal(r.json.message, '获取用量统计成功');
    const by = Object.fromEntries(r.json.data.groups.map((x: any) => [x.group, x]));
    assert.deepEqual(Object.keys(by).sort(), ['team-a', 'team-b']);
    assert.equal(by['team-a'].requests, 4);
    assert.equal(by['team-b'].requests, 2);
    assert.equal(by['team-b'].errors, 1);
    assert.equal(r.json.data.total.requests, 6);
    assert.ok(by['team-a'].total_tokens > 0);
    assert.equal(by['team-a'].total_tokens, by['team-a'].prompt_tokens + by['team-a'].completion_tokens);
    assert.equal(r.json.data.key, undefined);
  });

  test('a client key sees only its own rows', async () => {
    const r = await call(g.url, 'GET', '/v1/usage?group_by=model', { key: B });
    assert.equal(r.status, 200);
    assert.equal(r.json.data.key, 'team-b');
    assert.equal(r.json.data.total.requests, 2);
    // Its 404 for a model outside its list is under `unknown`, as in metrics (it was under the name it
    // sent, so any key could add groups of its own strings: see api-keys-ledger.test.ts).
    assert.deepEqual(r.json.data.groups.map((x: any) => x.group), ['chat', 'unknown']);
  });

  test('group_by model / deployment / day; cost from pricing', async () => {
    const model = await call(g.url, 'GET', '/v1/usage?group_by=model', { key: ADMIN });
    const chat = model.json.data.groups.find((x: any) => x.group === 'chat');
    assert.equal(chat.requests, 4);
    assert.ok(Math.abs(chat.cost - (chat.prompt_tokens * 1 + chat.completion_tokens * 2) / 1e6) < 1e-12);
    assert.equal(chat.priced_requests, 4, 'every chat row carries a cost');
    const other = model.json.data.groups.find((x: any) => x.group === 'other');
    assert.equal(other.cost, 0, 'no pricing, no cost');
    assert.equal(other.priced_requests, 0, 'and nothing says it was free');
    assert.equal(model.json.data.total.priced_requests, 4);
    // Costs came out with float noise (0.00014000000000000001): at most 12 decimals.
    for (const c of [chat.cost, model.json.data.total.cost]) assert.equal(c, Math.round(c * 1e12) / 1e12);
    const dep = await call(g.url, 'GET', '/v1/usage?group_by=deployment', { key: ADMIN });
    assert.deepEqual(dep.json.data.groups.map((x: any) => [x.group, x.requests]), [[null, 1], ['mock-chat:m', 4], ['mock-chat:n', 1]]);
    const day = await call(g.url, 'GET', '/v1/usage?group_by=day', { key: ADMIN });
    assert.deepEqual(day.json.data.groups.map((x: any) => x.group), [new Date().toISOString().slice(0, 10)]);
  });

  test('from / to select the window (ISO 8601 or Unix seconds)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const past = await call(g.url, 'GET', `/v1/usage?from=${now - 7200}&to=${now - 3600}`, { key: ADMIN });
    assert.equal(past.json.data.total.requests, 0);
    const iso = await call(g.url, 'GET', `/v1/usage?from=${new Date(Date.now() - 60_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`, { key: ADMIN });
    assert.equal(iso.json.data.total.requests, 6);
  });

  test('a mistyped or unknown filter (?key_name=, ?model=, ?groupby=) was ignored and reported every key\'s totals: 400 naming it; the admin key may ask for one key', async () => {
    for (const q of ['groupby=model', 'model=chat', 'key_name=team-a', 'group_by=key&user=x']) {
      const r = await call(g.url, 'GET', `/v1/usage?${q}`, { key: ADMIN });
      assert.equal(r.status, 400, q);
      assert.match(r.json.message, /unknown parameter .*use from, to, group_by, key/, q);
    }
    const one = await call(g.url, 'GET', '/v1/usage?group_by=model&key=team-a', { key: ADMIN });
    assert.equal(one.status, 200);
    assert.equal(one.json.data.key, 'team-a');
    assert.equal(one.json.data.total.requests, 4);
    const own = await call(g.url, 'GET', '/v1/usage?key=team-b', { key: B });
    assert.equal(own.status, 200, 'a client key may name itself');
    assert.equal(own.json.data.total.requests, 2);
    const other = await call(g.url, 'GET', '/v1/usage?key=team-a', { key: B });
    assert.equal(other.status, 403, 'not another key\'s rows');
    assert.match(other.json.message, /its own usage only/);
  });

  test('bad parameters answer 400 naming them; no key answers 401', async () => {
    for (const q of ['group_by=user', 'from=yesterday', 'to=2026-13-45x', 'from=200&to=100']) {
      const r = await call(g.url, 'GET', `/v1/usage?${q}`, { key: ADMIN });
      assert.equal(r.status, 400, q);
      assert.equal(r.json.success, false);
      assert.match(r.json.message, /^用量查询参数无效: /);
    }
    assert.equal((await call(g.url, 'GET', '/v1/usage')).status, 401);
  });

  test('regression: an impossible date (2026-02-30) was read as March 2nd: 400 naming it', async () => {
    for (const q of ['from=2026-02-30', 'to=2026-04-31T00:00:00Z', 'from=2026-00-10']) {
      const r = await call(g.url, 'GET', `/v1/usage?${q}`, { key: ADMIN });
      assert.equal(r.status, 400, q);
      assert.match(r.json.message, q.startsWith('from') ? /from/ : /to/);
    }
    assert.equal((await call(g.url, 'GET', '/v1/usage?from=2024-02-29', { key: ADMIN })).status, 200, 'a leap day is a day');
  });

  test('regression: a date-time without an offset was read in the host\'s time zone (TZ=Asia/Shanghai: 10:00 became 02:00Z); it is UTC, as days are', async () => {
    const tz = process.env.TZ;
    process.env.TZ = 'Asia/Shanghai';
    try {
      const r = await call(g.url, 'GET', '/v1/usage?from=2026-11-29T10:00&to=2026-11-29T12:30:00', { key: ADMIN });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.data.from, '2026-11-29T10:00:00.000Z');
      assert.equal(r.json.data.to, '2026-11-29T12:30:00.000Z');
      // An explicit offset still counts.
      const o = await call(g.url, 'GET', '/v1/usage?from=2026-11-29T10:00:00%2B08:00&to=2026-11-29T12:00:00Z', { key: ADMIN });
      assert.equal(o.json.data.from, '2026-11-29T02:00:00.000Z');
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });
});

describe('GET /v1/usage: who may ask', () => {
  test('unnamed apiKeys keys saw each other\'s rows (all key null): 403 naming the fix; a named key and the admin key still see theirs', async () => {
    const g = await startKeyedGateway(`auth:
  adminKey: "${ADMIN}"
  apiKeys: ["sk-plain-one", "sk-plain-two"]
  keys: [{ name: team-a, key: "${A}" }]
usage: { flushInterval: 50ms }
providers: { m: { type: mock } }
models: { chat: { providers: [{ provider: m, model: mock-chat }] } }
`);
    try {
      assert.equal((await call(g.url, 'POST', '/v1/chat/completions', { key: 'sk-plain-one', body: { model: 'chat', messages: [{ role: 'user', content: 'x' }] } })).status, 200);
      const other = await call(g.url, 'GET', '/v1/usage', { key: 'sk-plain-two' });
      assert.equal(other.status, 403);
      assert.equal(other.json.success, false);
      assert.equal(other.json.data, null);
      assert.match(other.json.message, /auth\.keys/);
      assert.ok(!other.text.includes('sk-plain'), 'no key echoed');
      assert.equal((await call(g.url, 'GET', '/v1/usage', { key: A })).status, 200);
      const admin = await call(g.url, 'GET', '/v1/usage', { key: ADMIN });
      assert.equal(admin.status, 200);
      assert.equal(admin.json.data.total.requests, 1);
    } finally {
      await g.close();
    }
  });

  test('with the ledger off, /v1/usage was an unknown URL: 404 in the envelope saying the ledger is off', async () => {
    const g = await startKeyedGateway(`usage: { enabled: false }
providers: { m: { type: mock } }
models: { chat: { providers: [{ provider: m, model: mock-chat }] } }
`);
    try {
      const r = await call(g.url, 'GET', '/v1/usage');
      assert.equal(r.status, 404);
      assert.equal(r.json.success, false);
      assert.match(r.json.message, /^用量账本未启用: .*usage\.enabled: false/);
    } finally {
      await g.close();
    }
  });
});
