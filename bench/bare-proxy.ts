/**
 * The floor for a proxy on this machine: Node `http` in front of an undici `Pool` to the upstream, bodies
 * buffered and passed through as bytes, no routing, no pool of adapters, no validation, no AbortController
 * (the "bare undici proxy" of the performance reference). Run as a child process, like the gateway, so the
 * benchmarks can measure it in the same run and show how much of the gateway's overhead is inherent.
 *
 * With BENCH_PARSE_JSON=1 (bench/json-proxy.ts) it is the JSON proxy instead: the body parsed, the
 * model replaced, re-serialized for the upstream, and the reply read whole as text — what any proxy
 * that routes by model pays to read the request, and nothing else.
 *
 * Env: BENCH_UPSTREAM = base URL (…/v1), BENCH_PARSE_JSON. IPC: bench/lib/child-ipc.ts.
 */
import http from 'node:http';
import { Pool } from 'undici';
import { serveBenchChild } from './lib/child-ipc.js';

const base = process.env.BENCH_UPSTREAM;
if (!base) throw new Error('BENCH_UPSTREAM is not set');
const url = new URL(base);
const path = `${url.pathname.replace(/\/+$/, '')}/chat/completions`;
const upstream = new Pool(url.origin, { connections: 64, pipelining: 1 });
const UP_HEADERS = { 'content-type': 'application/json' };
const parseJson = process.env.BENCH_PARSE_JSON === '1';

const server = http.createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (b: Buffer) => parts.push(b));
  req.on('end', () => {
    let body: Buffer | string = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (parseJson) {
      try {
        body = JSON.stringify({ ...(JSON.parse(body.toString('utf8')) as object), model: 'up-model' });
      } catch {
        res.writeHead(400).end();
        return;
      }
    }
    upstream.request({ method: 'POST', path, headers: UP_HEADERS, body }).then(
      async (r) => {
        const ct = r.headers['content-type'];
        if (typeof ct === 'string' && ct.startsWith('text/event-stream')) {
          res.writeHead(r.statusCode, { 'content-type': ct, 'cache-control': 'no-cache' });
          for await (const chunk of r.body) res.write(chunk);
          res.end();
          return;
        }
        if (parseJson) {
          const text = await r.body.text();
          res.writeHead(r.statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          res.end(text);
          return;
        }
        const out = Buffer.from(await r.body.arrayBuffer());
        res.writeHead(r.statusCode, { 'content-type': 'application/json', 'content-length': out.length });
        res.end(out);
      },
      () => {
        res.writeHead(502).end();
      },
    );
  });
});

server.listen(0, '127.0.0.1', () =>
  serveBenchChild(server, async () => {
    server.closeAllConnections();
    server.close();
    await upstream.destroy();
  }),
);
