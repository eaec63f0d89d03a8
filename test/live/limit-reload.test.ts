import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from '../server/helpers.js';
import { LiveUpstream, reloadVia, startFileGateway, type FileGateway } from './helpers.js';

const ADMIN = 'admin-key-limits-0001';
const KEY = 'client-key-alpha-0001';

function config(u: LiveUpstream, rpm: number): string {
  return `server: { host: 127.0.0.1, port: 0 }
auth:
  adminKey: ${ADMIN}
  keys:
    - { name: alpha, key: ${KEY}, rpm: ${rpm} }
pool: { minPoolSize: 1, maxPoolSize: 4 }
providers:
  one: { type: openai-compatible, baseUrl: "${u.url}", apiKey: provider-secret-0001 }
models:
  chat: { providers: [{ provider: one, model: up-one }] }
`;
}

const chat = (url: string) => call(url, 'POST', '/v1/chat/completions', { key: KEY, body: { model: 'chat', messages: [{ role: 'user', content: 'hi' }] } });

describe('a key limit changed by a reload', () => {
  let u: LiveUpstream;
  let g: FileGateway;
  before(async () => {
    u = await LiveUpstream.start('one');
    g = await startFileGateway(config(u, 100));
  });
  after(async () => {
    await g.close();
    await u.close();
  });

  it('lowering a key\'s rpm by reload gave it a fresh window (13 requests in a minute under rpm 5): the new limit applies to the window under way', async () => {
    for (let i = 0; i < 8; i++) assert.equal((await chat(g.url)).status, 200);
    await g.write(config(u, 5));
    assert.equal((await reloadVia(g.url, ADMIN)).status, 200);
    const r = await chat(g.url);
    assert.equal(r.status, 429, 'already 8 requests in this window, over the new 5');
    assert.equal(r.headers.get('x-ratelimit-limit-requests'), '5');
    assert.equal(r.headers.get('x-ratelimit-remaining-requests'), '0');
    // Raised again: the same window's 8 requests count against the new limit.
    await g.write(config(u, 10));
    assert.equal((await reloadVia(g.url, ADMIN)).status, 200);
    const ok = await chat(g.url);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-ratelimit-remaining-requests'), '1');
    assert.equal((await chat(g.url)).status, 200);
    assert.equal((await chat(g.url)).status, 429);
  });
});
