/**
 * The floor for a proxy on this machine: Node `http` in front of an undici `Pool` to the upstream, bodies
 * buffered and passed through as bytes, no routing, no pool of adapters, no validation, no AbortController
 * (the "bare undici proxy" of the performance reference). Run as a child process, like the gateway, so the
 * benchmarks can measure it in the same run and show how much of the gateway's overhead is inherent.
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
  const parts: Buffer[] = [];
  req.on('data', (b: Buffer) => parts.push(b));
  req.on('end', () => {
    const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    upstream.request({ method: 'POST', path, headers: UP_HEADERS, body }).then(
      async (r) => {
        const ct = r.headers['content-type'];
        if (typeof ct === 'string' && ct.startsWith('text/event-stream')) {
          res.writeHead(r.statusCode, { 'content-type': ct, 'cache-control': 'no-cache' });
          for await (const chunk of r.body) res.write(chunk);
          res.end();
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
