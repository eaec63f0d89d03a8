/**
 * The floor for a proxy that reads the request (what any gateway must do to route by model): the bare
 * proxy of bench/bare-proxy.ts plus `JSON.parse` of the body, the model replaced, `JSON.stringify` for the
 * upstream, and the reply's text read whole and sent on (no validation, routing, pool, logs, metrics,
 * ledger or framework). Run as a child process like the others; a baseline of `npm run bench`.
 *
 * Env: BENCH_UPSTREAM = base URL (…/v1). IPC: { cmd: 'mem' | 'mark' | 'gc-start' | 'gc-stop' | 'close', id }.
 */
import http from 'node:http';
import { Pool } from 'undici';
import { GcProbe } from './lib/gc-probe.js';

const base = process.env.BENCH_UPSTREAM;
if (!base) throw new Error('BENCH_UPSTREAM is not set');
const url = new URL(base);
const path = `${url.pathname.replace(/\/+$/, '')}/chat/completions`;
const upstream = new Pool(url.origin, { connections: 64, pipelining: 1 });
const UP_HEADERS = { 'content-type': 'application/json' };

const server = http.createServer((req, res) => {
  let text = '';
  req.setEncoding('utf8');
  req.on('data', (s: string) => (text += s));
  req.on('end', () => {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      res.writeHead(400).end();
      return;
    }
    upstream.request({ method: 'POST', path, headers: UP_HEADERS, body: JSON.stringify({ ...body, model: 'up-model' }) }).then(
      async (r) => {
        const ct = r.headers['content-type'];
        if (typeof ct === 'string' && ct.startsWith('text/event-stream')) {
          res.writeHead(r.statusCode, { 'content-type': ct, 'cache-control': 'no-cache' });
          for await (const chunk of r.body) res.write(chunk);
          res.end();
          return;
        }
        const out = await r.body.text();
        res.writeHead(r.statusCode, ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(out))]);
        res.end(out);
      },
      () => {
        res.writeHead(502).end();
      },
    );
  });
});

const probe = new GcProbe();

process.on('message', (m: { cmd: string; id: number }) => {
  const send = (r: Record<string, unknown>) => process.send?.({ id: m.id, ...r });
  if (m.cmd === 'mem') send({ mem: process.memoryUsage(), cpu: process.cpuUsage() });
  else if (m.cmd === 'gc-start') {
    probe.start();
    send({});
  } else if (m.cmd === 'gc-stop') send({ report: probe.stop(), cpu: process.cpuUsage() });
  else if (m.cmd === 'mark') send({ us: Number(process.hrtime.bigint() / 1000n) });
  else if (m.cmd === 'close') {
    server.closeAllConnections();
    server.close();
    void upstream.destroy().then(() => {
      send({});
      process.exit(0);
    });
  }
});
process.on('disconnect', () => process.exit(0));
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` });
});
