/**
 * A/B of two builds of the gateway under the same load, for hot-path work (not part of `npm run bench`):
 * each build's gateway in its own child (started by that build's own bench/lib/children.js), one
 * upstream, rounds interleaved (A B, B A, …) so drift hits both alike; medians of the rounds.
 *
 *   node dist/bench/ab.js A_DIST B_DIST [rounds] [stream] [one]
 *
 * A_DIST / B_DIST: a build's `dist` directory (e.g. a `git worktree` of the base commit, built with
 * `npx tsc -p tsconfig.json`, beside a `node_modules` link). Default: 50 connections, CPU µs and bytes
 * allocated per request, req/s and p99; `one`: 1 connection, mean and p99 latency (what a stall shows in).
 * `AB_A_EXTRA` / `AB_B_EXTRA`: JSON config sections merged over that side's (e.g. the same build twice,
 * `AB_B_EXTRA='{"usage":{"enabled":false}}'`, to see what one feature costs). `AB_A_ARGV` / `AB_B_ARGV`:
 * Node flags for that side's gateway, space-separated (e.g. `AB_B_ARGV=--max-semi-space-size=32`).
 */
import { resolve } from 'node:path';
import type { GatewayChild, Upstream } from './lib/children.js';
import type { GcReport } from './lib/gc-probe.js';
import type { LoadResult } from './lib/load.js';

type Children = typeof import('./lib/children.js');
type Load = typeof import('./lib/load.js');

const args = process.argv.slice(2);
const [aDir, bDir] = args;
if (aDir === undefined || bDir === undefined) throw new Error('usage: node dist/bench/ab.js A_DIST B_DIST [rounds] [stream] [one]');
const rounds = Number(args.slice(2).find((a) => /^\d+$/.test(a)) ?? 4);
const stream = args.includes('stream');
const connections = args.includes('one') ? 1 : 50;

const ca = (await import(resolve(aDir, 'bench/lib/children.js'))) as Children;
const cb = (await import(resolve(bDir, 'bench/lib/children.js'))) as Children;
const { CHAT_BODY, STREAM_BODY, runLoad, median } = (await import(resolve(aDir, 'bench/lib/load.js'))) as Load;
const body = stream ? STREAM_BODY : CHAT_BODY;

interface Round {
  cpu: number;
  alloc: number;
  /** The gateway's event-loop utilization over the round (0..1). */
  elu: number;
  r: LoadResult;
}

async function one(g: GatewayChild): Promise<Round> {
  const c0 = (await g.call<{ cpu: { user: number; system: number } }>('mem')).cpu;
  await g.call('gc-start');
  const r = await runLoad({ url: g.chatUrl, connections, durationS: 3, body });
  const { report, cpu } = await g.call<{ report: GcReport; cpu: { user: number; system: number } }>('gc-stop');
  return { cpu: (cpu.user + cpu.system - c0.user - c0.system) / r.ok, alloc: report.allocatedBytes / r.ok, elu: report.eventLoopUtilization, r };
}

const up: Upstream = await ca.startUpstream();
const extra = (name: string) => (process.env[name] ? (JSON.parse(process.env[name]) as Record<string, unknown>) : undefined);
const argv = (name: string) => process.env[name]?.split(' ').filter((a) => a !== '') ?? [];
const ga = await ca.startGateway({ upstream: up, maxPoolSize: 50, extra: extra('AB_A_EXTRA'), execArgv: argv('AB_A_ARGV') });
const gb = await cb.startGateway({ upstream: up, maxPoolSize: 50, extra: extra('AB_B_EXTRA'), execArgv: argv('AB_B_ARGV') });
try {
  for (const g of [ga, gb]) await runLoad({ url: g.chatUrl, connections, durationS: 2, body });
  const ra: Round[] = [];
  const rb: Round[] = [];
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      ra.push(await one(ga));
      rb.push(await one(gb));
    } else {
      rb.push(await one(gb));
      ra.push(await one(ga));
    }
  }
  const line = (name: string, xs: Round[]) => {
    const m = (f: (x: Round) => number) => median(xs.map(f));
    return (
      `${name}: CPU ${m((x) => x.cpu).toFixed(1)} µs (least ${Math.min(...xs.map((x) => x.cpu)).toFixed(1)}), ${(m((x) => x.alloc) / 1024).toFixed(1)} KB allocated per request, event loop busy ${(m((x) => x.elu) * 100).toFixed(0)} %, ` +
      `${m((x) => x.r.rps).toFixed(0)} req/s, mean ${m((x) => x.r.mean).toFixed(3)} ms, p99 ${m((x) => x.r.p99).toFixed(2)} ms (rounds' p99: ${xs.map((x) => x.r.p99.toFixed(2)).join(' ')})`
    );
  };
  console.log(`${stream ? 'streaming' : 'non-streaming'}, ${connections} connection(s), ${rounds} interleaved rounds of 3 s`);
  console.log(line(`A ${aDir}`, ra));
  console.log(line(`B ${bDir}`, rb));
} finally {
  await ga.stop();
  await gb.stop();
  await up.stop();
}
