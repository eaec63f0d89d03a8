/**
 * A/B helper for hot-path work on a shared machine: CPU µs and bytes allocated per request of the
 * gateway (and the bare proxy) under the same closed-loop load, which stay comparable when wall-clock
 * req/s does not. Not part of `npm run bench`.
 *
 *   node dist/bench/cpu.js [stream] [rounds] [--extra '{"usage":{"enabled":false}}']
 */
import { startBareProxy, startGateway, startUpstream, type CpuUsage, type GatewayChild } from './lib/children.js';
import type { GcReport } from './lib/gc-probe.js';
import { CHAT_BODY, STREAM_BODY, median, runLoad } from './lib/load.js';

const args = process.argv.slice(2);
const stream = args.includes('stream');
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
const x = args.indexOf('--extra');
const extra = x === -1 ? undefined : (JSON.parse(args[x + 1]!) as Record<string, unknown>);
const body = stream ? STREAM_BODY : CHAT_BODY;

const up = await startUpstream();
const gw = await startGateway({ upstream: up, maxPoolSize: 50, extra });
const bare = await startBareProxy(up);
async function one(c: GatewayChild): Promise<{ cpu: number; alloc: number }> {
  const c0 = (await c.call<{ cpu: CpuUsage }>('mem')).cpu;
  await c.call('gc-start');
  const r = await runLoad({ url: c.chatUrl, connections: 50, durationS: 3, body });
  const { report, cpu } = await c.call<{ report: GcReport; cpu: CpuUsage }>('gc-stop');
  return { cpu: (cpu.user + cpu.system - c0.user - c0.system) / r.ok, alloc: report.allocatedBytes / r.ok };
}
try {
  for (const c of [gw, bare]) await runLoad({ url: c.chatUrl, connections: 50, durationS: 2, body });
  const g: Array<{ cpu: number; alloc: number }> = [];
  const b: Array<{ cpu: number; alloc: number }> = [];
  for (let i = 0; i < rounds; i++) {
    g.push(await one(gw));
    b.push(await one(bare));
  }
  const m = (xs: Array<{ cpu: number; alloc: number }>, k: 'cpu' | 'alloc') => median(xs.map((v) => v[k]));
  // Contention only adds CPU time (cache misses, migrations): the least round is the steadiest figure.
  const least = (xs: Array<{ cpu: number }>) => Math.min(...xs.map((v) => v.cpu));
  console.log(
    `${stream ? 'streaming' : 'non-streaming'}, ${rounds} rounds: gateway ${m(g, 'cpu').toFixed(1)} µs CPU, ${(m(g, 'alloc') / 1024).toFixed(1)} KB per request; ` +
      `bare proxy ${m(b, 'cpu').toFixed(1)} µs, ${(m(b, 'alloc') / 1024).toFixed(1)} KB; ratio ${(m(g, 'cpu') / m(b, 'cpu')).toFixed(2)}; least round ${least(g).toFixed(1)} / ${least(b).toFixed(1)} µs = ${(least(g) / least(b)).toFixed(2)} (rounds: ${g.map((v) => v.cpu.toFixed(0)).join(' ')} / ${b.map((v) => v.cpu.toFixed(0)).join(' ')})`,
  );
} finally {
  await gw.stop();
  await bare.stop();
  await up.stop();
}
