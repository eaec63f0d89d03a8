import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { buildSnapshot } from '../../src/server/live/snapshot.js';

const yaml = (extra = '') => `providers: { m: { type: mock } }
models:
  chat: { providers: [{ provider: m }] }
${extra}`;

describe('GET /v1/models created', () => {
  test('every reload stamped every model with the reload time: a model keeps the time it first appeared; an added one gets its own', () => {
    const first = buildSnapshot(parseConfig(yaml(), { env: {} }), 1, '127.0.0.1');
    // As if the gateway had started long ago.
    const earlier = { ...first, modelCreated: new Map([['chat', 1_000_000]]) };
    const next = buildSnapshot(parseConfig(yaml('  added: { providers: [{ provider: m }] }'), { env: {} }), 2, '127.0.0.1', earlier);
    const list = JSON.parse(next.modelList.body) as { data: Array<{ id: string; created: number }> };
    const created = Object.fromEntries(list.data.map((m) => [m.id, m.created]));
    assert.equal(created.chat, 1_000_000);
    assert.ok(created.added! >= Math.floor(Date.now() / 1000) - 5);
    assert.equal((JSON.parse(next.modelList.byId.get('chat')!) as { created: number }).created, 1_000_000);
  });
});
