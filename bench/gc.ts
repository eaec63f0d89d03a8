/**
 * Allocation and GC pauses per request: non-streaming requests at a fixed 1,000 req/s (autocannon's
 * rate limit; wrk has none) through the gateway and through the bare proxy, each child reporting what
 * V8's GC profiler saw over the measured window (bench/lib/gc-probe.ts): bytes allocated per request,
 * and every scavenge's pause.
 */
import { startBareProxy, startGateway, startHello, startUpstream, type GatewayChild } from './lib/children.js';
import type { GcReport } from './lib/gc-probe.js';
import { CHAT_BODY, STREAM_BODY, runLoad, type LoadResult } from './lib/load.js';
import { log, ms, table, type Section } from './lib/report.js';

export interface GcOptions {
  seconds: number;
  rate: number;
}

interface Measured {
  report: GcReport;
  load: LoadResult;
}

async function measure(target: GatewayChild, body: string, o: GcOptions): Promise<Measured> {
  await runLoad({ url: target.chatUrl, connections: 10, durationS: 2, body });
  await target.call('gc-start');
  const load = await runLoad({ url: target.chatUrl, connections: 10, durationS: o.seconds, rate: o.rate, body });
  const { report } = await target.call<{ report: GcReport }>('gc-stop');
  return { report, load };
}

export const MAX_ALLOC_PER_REQUEST = 8 * 1024;
export const MAX_SCAVENGE_MS = 1;

export async function runGc(o: GcOptions): Promise<Section> {
  const up = await startUpstream();
  let gw: GatewayChild | undefined;
  let bare: GatewayChild | undefined;
  let node: GatewayChild | undefined;
  let fastify: GatewayChild | undefined;
  try {
    gw = await startGateway({ upstream: up, maxPoolSize: 50 });
    bare = await startBareProxy(up);
    node = await startHello('node');
    fastify = await startHello('fastify');
    log(`gc: ${o.seconds} s at ${o.rate} req/s per setup`);
    const rows: Array<[string, Measured]> = [
      ['hello world, Node `http` (no upstream)', await measure(node, CHAT_BODY, o)],
      ['hello world, fastify (no upstream)', await measure(fastify, CHAT_BODY, o)],
      ['bare undici proxy', await measure(bare, CHAT_BODY, o)],
      ['**gateway**', await measure(gw, CHAT_BODY, o)],
      ['bare undici proxy, streaming', await measure(bare, STREAM_BODY, o)],
      ['**gateway**, streaming', await measure(gw, STREAM_BODY, o)],
    ];
    const kb = (m: Measured) => m.report.allocatedBytes / Math.max(1, m.load.ok) / 1024;
    const gwPlain = rows[3]![1];
    const barePlain = rows[2]![1];
    const markdown = [
      `${o.seconds} s per row at a fixed ${o.rate} req/s (autocannon, 10 connections) after 2 s of warm-up; the child measures its own heap with V8's GC profiler (\`v8.GCProfiler\`, bench/lib/gc-probe.ts): ` +
        'allocated = growth of the used heap between collections. Gateway: logging at `info`, metrics, validation, auth on.',
      '',
      table(
        ['setup', 'requests', 'allocated per request', 'scavenges', 'requests per scavenge', 'longest scavenge', 'scavenges over 1 ms', 'other GCs (longest)', 'p99'],
        rows.map(([name, m]) => [
          name,
          String(m.load.ok),
          `${kb(m).toFixed(1)} KB`,
          String(m.report.scavenges),
          m.report.scavenges > 0 ? String(Math.round(m.load.ok / m.report.scavenges)) : '—',
          ms(m.report.scavengeMaxMs, 2),
          String(m.report.scavengesOver1ms),
          `${m.report.otherGcs} (${ms(m.report.otherMaxMs, 2)})`,
          ms(m.load.p99, 2),
        ]),
      ),
    ].join('\n');
    const perReq = kb(gwPlain);
    const notes: string[] = [];
    if (perReq * 1024 > MAX_ALLOC_PER_REQUEST) {
      notes.push(
        `**Allocation (${perReq.toFixed(1)} KB per non-streaming request, target 8 KB).** In the same run a Node \`http\` hello world allocates ${kb(rows[0]![1]).toFixed(1)} KB per request ` +
          `with no upstream at all, fastify's ${kb(rows[1]![1]).toFixed(1)} KB, and the bare proxy (Node \`http\` + undici) ${kb(barePlain).toFixed(1)} KB: the target is below what the ` +
          `server and client libraries allocate by themselves. The gateway's own share is the rest, ${(perReq - kb(barePlain)).toFixed(1)} KB (\`node dist/bench/alloc.js\` lists it by function).`,
      );
    }
    if (gwPlain.report.scavengeMaxMs > MAX_SCAVENGE_MS) {
      notes.push(
        `**Scavenge pauses (longest ${ms(gwPlain.report.scavengeMaxMs, 2)}, ${gwPlain.report.scavengesOver1ms} of ${gwPlain.report.scavenges} over 1 ms; target none).** ` +
          `The bare proxy's longest in the same run: ${ms(barePlain.report.scavengeMaxMs, 2)}. A pause is wall time: on a machine whose cores are shared, a descheduled GC thread shows as a long pause.`,
      );
    }
    return {
      title: 'Allocation and GC pauses',
      notes,
      markdown,
      targets: [
        {
          name: `allocated per non-streaming request (bare proxy ${kb(barePlain).toFixed(1)} KB)`,
          value: `${perReq.toFixed(1)} KB`,
          target: '≤ 8 KB',
          met: perReq * 1024 <= MAX_ALLOC_PER_REQUEST,
        },
        {
          name: `longest scavenge at ${o.rate.toLocaleString('en-US')} req/s, non-streaming (bare proxy ${ms(barePlain.report.scavengeMaxMs, 2)})`,
          value: ms(gwPlain.report.scavengeMaxMs, 2),
          target: '≤ 1 ms',
          met: gwPlain.report.scavengeMaxMs <= MAX_SCAVENGE_MS,
        },
      ],
      data: Object.fromEntries(rows.map(([n, m]) => [n, m])),
    };
  } finally {
    await gw?.stop();
    await bare?.stop();
    await node?.stop();
    await fastify?.stop();
    await up.stop();
  }
}
