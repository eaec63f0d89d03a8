import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startGateway, type RunningGateway } from './helpers.js';

/** A raw request (fetch cannot send some of these): status and x-request-id of the answer. */
function raw(url: string, options: { method?: string; path: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; id: string | undefined }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method: options.method ?? 'GET', path: options.path, headers: options.headers ?? {} }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, id: res.headers['x-request-id'] as string | undefined }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const UUID = /^[0-9a-f-]{36}$/;

describe('x-request-id on every response (issue 15)', () => {
  let g: RunningGateway;
  before(async () => {
    g = await startGateway(`server: { bodyLimit: 1kb }
providers:
  m: { type: mock }
models:
  demo: { providers: [{ provider: m }] }
`);
  });
  after(() => g.close());

  test('the operator endpoints, unknown routes and the framework\'s own errors echo the id received, or carry a made one', async () => {
    const cases: Array<{ what: string; status: number; method?: string; path: string; headers?: Record<string, string>; body?: string }> = [
      { what: '/metrics', status: 200, path: '/metrics' },
      { what: '/dashboard', status: 200, path: '/dashboard' },
      { what: '/health', status: 200, path: '/health' },
      { what: '/v1/pool/stats', status: 200, path: '/v1/pool/stats' },
      { what: 'an unknown route', status: 404, path: '/no/such/route' },
      { what: 'an unknown method', status: 404, method: 'DELETE', path: '/v1/models' },
      { what: 'unparsable JSON', status: 400, method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: '{bad' },
      { what: 'a body over server.bodyLimit', status: 413, method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'demo', messages: [{ role: 'user', content: 'x'.repeat(4096) }] }) },
      { what: 'a bad URL encoding', status: 400, path: '/v1/models/%ff' },
    ];
    for (const c of cases) {
      const given = await raw(g.url, { ...c, headers: { ...c.headers, 'x-request-id': `id-${c.status}` } });
      assert.equal(given.status, c.status, c.what);
      assert.equal(given.id, `id-${c.status}`, `${c.what}: the id received is echoed`);
      const made = await raw(g.url, c);
      assert.match(made.id ?? '', UUID, `${c.what}: an id is made`);
    }
    // Headers too large never reach a route (Node answers for the server): an id all the same.
    const big = await raw(g.url, { path: '/health', headers: { 'x-big': 'a'.repeat(20_000) } });
    assert.equal(big.status, 431);
    assert.match(big.id ?? '', UUID);
  });
});
