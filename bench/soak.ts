/**
 * Soak: steady load (a fixed request rate, a mix of non-streaming and streaming) through the gateway for
 * a while, sampling its memory; memory after GC must stay flat (its growth from the first sample after
 * settling to the last, against the first) and the pool must end with 0 adapters in use.
 */
import { startGateway, startUpstream, type MemoryUsage } from './lib/children.js';
import { STREAM_BODY, runLoad } from './lib/load.js';
import { log, mb, rps, signedMb, table, type Section } from './lib/report.js';

export interface SoakOptions {
  seconds: number;
  /** Total requests per second (60 % non-streaming, 40 % streaming). */
  rate: number;
  /** Extra per-deployment pool fields, e.g. a small `maxUses` to churn adapters. */
  pool?: Record<string, unknown>;
}

interface Sample {
  t: number;
  raw: MemoryUsage;
  gc: MemoryUsage;
}

const FLAT_HEAP_BYTES = 2 * 1024 * 1024;

export async function runSoak(o: SoakOptions): Promise<Section> {
  const up = await startUpstream();
  try {
    const gw = await startGateway({ upstream: up, maxPoolSize: 10, pool: o.pool });
    try {
      log(`soak: ${o.seconds} s at ${o.rate} req/s`);
      await runLoad({ url: gw.chatUrl, connections: 20, durationS: 2 });
      const samples: Sample[] = [];
      const t0 = Date.now();
      const every = Math.max(2_000, Math.min(15_000, (o.seconds * 1000) / 20));
      const sample = async () => {
        const raw = (await gw.call<{ mem: MemoryUsage }>('mem')).mem;
        const gc = (await gw.call<{ mem: MemoryUsage }>('gc')).mem;
        samples.push({ t: (Date.now() - t0) / 1000, raw, gc });
      };
      let sampling = Promise.resolve();
      const timer = setInterval(() => {
        sampling = sampling.then(sample, () => {});
      }, every);
      let plain, streamed;
      try {
        [plain, streamed] = await Promise.all([
          runLoad({ url: gw.chatUrl, connections: 12, durationS: o.seconds, rate: Math.round(o.rate * 0.6) }),
          runLoad({ url: gw.chatUrl, connections: 8, durationS: o.seconds, rate: Math.round(o.rate * 0.4), body: STREAM_BODY }),
        ]);
      } finally {
        clearInterval(timer);
        await sampling;
      }
      await new Promise((r) => setTimeout(r, 500));
      const pool = (await gw.call<{ status: { in_use_adapters: number; waiting: number; total_adapters: number } }>('pool')).status;
      await sample();
      const upStats = await up.call<{ connections: number; requests: number }>('stats');

      // Settled: skip the first 20 % of the run (JIT, pool filling, heap growing to its working size).
      const settled = samples.filter((s) => s.t >= o.seconds * 0.2);
      const first = settled[0] ?? samples[0]!;
      const last = samples[samples.length - 1]!;
      const heapGrowth = last.gc.heapUsed - first.gc.heapUsed;
      const rssGrowth = last.raw.rss - first.raw.rss;
      const maxRss = Math.max(...samples.map((s) => s.raw.rss));
      // Least-squares slope of heap-after-GC over the settled samples, in MB per minute.
      const pts = samples.filter((s) => s.t >= first.t);
      const mt = pts.reduce((a, s) => a + s.t, 0) / pts.length;
      const mh = pts.reduce((a, s) => a + s.gc.heapUsed, 0) / pts.length;
      const den = pts.reduce((a, s) => a + (s.t - mt) ** 2, 0);
      const slopeMbPerMin = den > 0 ? ((pts.reduce((a, s) => a + (s.t - mt) * (s.gc.heapUsed - mh), 0) / den) * 60) / 1024 / 1024 : 0;
      const failed = plain.failed + streamed.failed;
      const flat = heapGrowth <= FLAT_HEAP_BYTES;
      const pick = [samples[0]!, first, samples[Math.floor(samples.length / 2)]!, last].filter((s, i, a) => a.indexOf(s) === i);
      const markdown = [
        `${o.seconds} s at a fixed ${o.rate} req/s (autocannon: ${Math.round(o.rate * 0.6)}/s non-streaming on 12 connections + ${Math.round(o.rate * 0.4)}/s streaming on 8), ` +
          `deployment \`maxPoolSize: 10\`; ${samples.length} memory samples (RSS as is, heap after a forced GC). ` +
          `Served ${rps(plain.ok + streamed.ok)} requests (${failed} failed); p99 ${plain.p99.toFixed(2)} ms non-streaming, ${streamed.p99.toFixed(2)} ms streaming; ` +
          `${upStats.connections} upstream connections in all. At the end: ${pool.in_use_adapters} adapters in use, ${pool.waiting} waiting, ${pool.total_adapters} in the pool.`,
        '',
        table(
          ['time', 'RSS', 'heap used after GC', 'heap total'],
          pick.map((s) => [`${s.t.toFixed(0)} s${s === first ? ' (settled)' : s === last ? ' (end)' : ''}`, mb(s.raw.rss), mb(s.gc.heapUsed), mb(s.gc.heapTotal)]),
        ),
        '',
        `Growth from the settled sample to the end: heap after GC **${signedMb(heapGrowth)}** (least-squares trend over the ${pts.length} settled samples ${slopeMbPerMin >= 0 ? '+' : '−'}${Math.abs(slopeMbPerMin).toFixed(2)} MB/min), ` +
          `RSS ${signedMb(rssGrowth)} (peak RSS ${mb(maxRss)}). The forced GCs of the samples pause the gateway and show in the p99 above.`,
      ].join('\n');
      return {
        title: `Soak: ${o.seconds} s at steady load`,
        markdown,
        targets: [
          { name: `soak heap after GC, settled → end (${o.seconds} s)`, value: signedMb(heapGrowth), target: 'flat (≤ +2 MB)', met: flat && failed === 0 },
          { name: 'adapters in use at the end of the soak', value: String(pool.in_use_adapters), target: '0', met: pool.in_use_adapters === 0 },
        ],
        data: { samples, plain, streamed, pool, upStats, heapGrowth, rssGrowth, slopeMbPerMin },
      };
    } finally {
      await gw.stop();
    }
  } finally {
    await up.stop();
  }
}
