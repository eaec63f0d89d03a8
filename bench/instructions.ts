/**
 * Instructions per request, counted by valgrind's callgrind: a measure that does not move with the
 * machine's load (wall-clock and CPU-time figures on a shared 2-core VM move by 10–30 % between runs,
 * so a 1 µs change on the hot path cannot be seen in them). Not part of `npm run bench`.
 *
 *   node dist/bench/instructions.js [DIST ...] [--requests N] [--warmup W] [--connections C] [stream]
 *
 * Each DIST (default: this build's own `dist`) is a build's `dist` directory, as in bench/ab.ts. For
 * each, and for the bare proxy, the child runs twice under callgrind: W warm-up requests then
 * nothing, and W warm-up requests then N more. The difference of the two totals over N is the
 * instructions one request costs once the code is warm, start-up and shutdown cancelling out. The
 * figure counts every thread of the process (the SQLite thread and V8's helpers included). Limits:
 * under valgrind a request takes ~50× as long, so work driven by the clock (the budget sweeper, flush
 * timers) is counted against each request far more than at real rates; and the bare proxy's figure
 * moved 2.4 % between two runs of the same code (JIT tiering after the warm-up), so small changes
 * need several runs.
 * `AB_EXTRA_<i>` (i = the DIST's position, from 0): JSON config sections merged over that build's.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Pool } from 'undici';
import type { GatewayChild, Upstream, Wrapper } from './lib/children.js';

type Children = typeof import('./lib/children.js');
type Load = typeof import('./lib/load.js');

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const requests = opt('--requests', 2000);
const warmup = opt('--warmup', 3000);
const connections = opt('--connections', 4);
const stream = args.includes('stream');
const valued = new Set(['--requests', '--warmup', '--connections']);
const dists = args.filter((a, i) => !a.startsWith('--') && !valued.has(args[i - 1] ?? '') && a !== 'stream');
if (dists.length === 0) dists.push(resolve(import.meta.dirname, '..'));

const own = (await import(resolve(dists[0]!, 'bench/lib/children.js'))) as Children;
const { CHAT_BODY, STREAM_BODY, HEADERS } = (await import(resolve(dists[0]!, 'bench/lib/load.js'))) as Load;
const body = stream ? STREAM_BODY : CHAT_BODY;

let runs = 0;
function callgrind(): { wrapper: Wrapper; outFile: string } {
  const outFile = join(own.WORK_DIR, `callgrind-${++runs}.out`);
  // --smc-check: V8 writes and patches machine code on its heap; valgrind must see those writes.
  const args = ['--tool=callgrind', '--smc-check=all-non-file', '--dump-instr=no', '--compress-strings=no', `--callgrind-out-file=${outFile}`];
  return { wrapper: { execPath: 'valgrind', args, readyTimeoutMs: 300_000 }, outFile };
}

/** The process's total instruction count, from callgrind's `totals:` (or `summary:`) line. */
function totalInstructions(outFile: string): number {
  const text = readFileSync(outFile, 'utf8');
  const m = /^(?:totals|summary):\s+(\d+)/m.exec(text);
  if (!m) throw new Error(`no totals in ${outFile}`);
  return Number(m[1]);
}

/** `count` requests, `connections` at a time; every reply is read whole and must be 200. */
async function drive(url: string, count: number): Promise<void> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections });
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const r = await pool.request({ method: 'POST', path: u.pathname, headers: HEADERS, body });
      await r.body.text();
      if (r.statusCode !== 200) throw new Error(`${url}: status ${r.statusCode}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(connections, count) }, worker));
  } finally {
    await pool.close();
  }
}

async function countOnce(start: (w: Wrapper) => Promise<GatewayChild>, extra: number): Promise<number> {
  const { wrapper, outFile } = callgrind();
  const child = await start(wrapper);
  try {
    await drive(child.chatUrl, warmup);
    if (extra > 0) await drive(child.chatUrl, extra);
  } finally {
    await child.stop(120_000);
  }
  return totalInstructions(outFile);
}

async function perRequest(name: string, start: (w: Wrapper) => Promise<GatewayChild>): Promise<number> {
  const base = await countOnce(start, 0);
  const more = await countOnce(start, requests);
  const n = (more - base) / requests;
  console.log(`${name}: ${(n / 1000).toFixed(1)} k instructions per request (${(base / 1e9).toFixed(3)} G with ${warmup} requests, ${(more / 1e9).toFixed(3)} G with ${warmup + requests})`);
  return n;
}

const up: Upstream = await own.startUpstream();
try {
  console.log(`${stream ? 'streaming' : 'non-streaming'}, ${connections} connection(s), ${warmup} warm-up requests, ${requests} counted`);
  const bare = await perRequest('bare proxy', (w) => own.startBareProxy(up, [], w));
  for (const [i, dir] of dists.entries()) {
    const c = (await import(resolve(dir, 'bench/lib/children.js'))) as Children;
    const extraText = process.env[`AB_EXTRA_${i}`];
    const extra = extraText ? (JSON.parse(extraText) as Record<string, unknown>) : undefined;
    const n = await perRequest(`gateway ${dir}${extraText ? ` ${extraText}` : ''}`, (wrapper) => c.startGateway({ upstream: up, maxPoolSize: 50, extra, wrapper }));
    console.log(`  ÷ bare proxy: ${(n / bare).toFixed(3)}×`);
  }
} finally {
  await up.stop();
}
