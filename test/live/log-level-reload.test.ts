import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reloadVia, startFileGateway } from './helpers.js';

/**
 * Regression: `logging.level` changed by a reload did not reach every logger. From `debug` to `info`,
 * each request still wrote its `debug` "request done" line (fastify's own child of the gateway's
 * logger, and each route's request loggers, kept the level they were made with); from `info` to
 * `debug`, the pool's lending lines never came (the pool had asked the level once, at start).
 */
const config = (level: string) => `auth: { adminKey: admin-key-0123456789 }
logging: { level: ${level} }
providers:
  m: { type: mock }
models:
  chat: { providers: [{ provider: m, model: mock-chat }] }
`;

async function chat(url: string): Promise<void> {
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }) });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
}

test('info -> debug: the pool lines come; debug -> info: no debug line after the reload', async () => {
  const g = await startFileGateway(config('info'), {}, 'info');
  const reload = async (level: string) => {
    await g.write(config(level));
    assert.equal((await reloadVia(g.url, 'admin-key-0123456789')).status, 200);
  };
  try {
    const debugLines = () => g.lines().filter((l) => l.level === 20);
    await chat(g.url);
    assert.deepEqual(debugLines(), [], 'at info: no debug line');

    await reload('debug');
    await chat(g.url);
    assert.ok(debugLines().some((l) => l.component === 'pool'), 'at debug: the pool lines');
    // Like the seed's other lines, they carry an event to search by.
    assert.ok(debugLines().some((l) => l.event === 'adapter_acquired') && debugLines().some((l) => l.event === 'adapter_released'));

    await reload('info');
    const before = debugLines().length;
    await chat(g.url);
    await chat(g.url);
    assert.deepEqual(debugLines().slice(before), [], 'back at info: no debug line');
  } finally {
    await g.close();
  }
});

test('started at debug, reloaded to info: the per-response debug line stops', async () => {
  const g = await startFileGateway(config('debug'), {}, 'debug');
  try {
    await chat(g.url);
    assert.ok(g.lines().some((l) => l.level === 20 && l.msg === 'request done'), 'at debug: the per-response line');
    await g.write(config('info'));
    assert.equal((await reloadVia(g.url, 'admin-key-0123456789')).status, 200);
    const before = g.lines().length;
    await chat(g.url);
    assert.deepEqual(g.lines().slice(before).filter((l) => l.level === 20), [], 'at info: no debug line');
  } finally {
    await g.close();
  }
});

test('regression: a reload that raised the level to warn wrote no line saying it applied; it says so at warn', async () => {
  const g = await startFileGateway(config('info'), {}, 'info');
  try {
    await g.write(config('warn'));
    assert.equal((await reloadVia(g.url, 'admin-key-0123456789')).status, 200);
    const line = g.lines().find((l) => l.event === 'config_reloaded');
    assert.ok(line, 'a config_reloaded line');
    assert.equal(line.level, 40);
    assert.deepEqual(line.changed, { settings: ['logging.level'] });
  } finally {
    await g.close();
  }
});
