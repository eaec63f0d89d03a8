/**
 * CPU profile of the gateway under load: the gateway child runs with `--cpu-prof`, autocannon drives
 * 50 connections at it, then it exits normally so V8 writes the profile, which is summarized here.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { WORK_DIR, startBareProxy, startGateway, startUpstream, type GatewayChild } from './lib/children.js';
import { CHAT_BODY, STREAM_BODY, runLoad } from './lib/load.js';
import { log, rps, table, type Section } from './lib/report.js';
import { profileMarkdown, summarizeProfile, type ProfileSummary } from './cpuprofile-summary.js';

export interface ProfileOptions {
  seconds: number;
}

interface Profiled {
  file: string;
  summary: ProfileSummary;
  rps: number;
  requests: number;
}

async function profileOne(target: 'gateway' | 'bare', name: string, body: string, seconds: number): Promise<Profiled> {
  const dir = join(WORK_DIR, `prof-${target}-${name}`);
  const up = await startUpstream();
  try {
    const execArgv = ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=200'];
    const gw: GatewayChild = target === 'gateway' ? await startGateway({ upstream: up, maxPoolSize: 50, execArgv }) : await startBareProxy(up, execArgv);
    let r;
    let window: { fromUs: number; toUs: number };
    try {
      await runLoad({ url: gw.chatUrl, connections: 50, durationS: 2, body });
      const from = await gw.call<{ us: number }>('mark');
      r = await runLoad({ url: gw.chatUrl, connections: 50, durationS: seconds, body });
      const to = await gw.call<{ us: number }>('mark');
      window = { fromUs: from.us, toUs: to.us };
    } finally {
      await gw.stop(30_000);
    }
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length === 0) throw new Error(`no .cpuprofile written in ${dir}`);
    const file = join(dir, files[0]!);
    return { file, summary: summarizeProfile(file, 30, window), rps: r.rps, requests: r.ok };
  } finally {
    await up.stop();
  }
}

/** µs of self time per request, by area, for the bare proxy and the gateway side by side. */
function perRequestTable(bare: Profiled, gw: Profiled): string {
  const perReq = (p: Profiled, area: string) => ((p.summary.areas.find((a) => a.area === area)?.selfMs ?? 0) * 1000) / p.requests;
  const areas = [...new Set([...gw.summary.areas.map((a) => a.area), ...bare.summary.areas.map((a) => a.area)])];
  const rows = areas
    .map((a) => ({ a, g: perReq(gw, a), b: perReq(bare, a) }))
    .filter((r) => r.g >= 0.5 || r.b >= 0.5)
    .sort((x, y) => y.g - x.g || y.b - x.b)
    .slice(0, 18);
  const total = (p: Profiled) => (p.summary.busyMs * 1000) / p.requests;
  return table(
    ['area (self time per request, profiled)', 'bare undici proxy', 'gateway', 'difference'],
    [
      ...rows.map((r) => [r.a, `${r.b.toFixed(1)} µs`, `${r.g.toFixed(1)} µs`, `${r.g - r.b >= 0 ? '+' : '−'}${Math.abs(r.g - r.b).toFixed(1)} µs`]),
      ['**all (busy time)**', `**${total(bare).toFixed(1)} µs**`, `**${total(gw).toFixed(1)} µs**`, `**+${(total(gw) - total(bare)).toFixed(1)} µs**`],
    ],
  );
}

export async function runProfile(o: ProfileOptions): Promise<Section> {
  log('profile: bare proxy, non-streaming');
  const bare = await profileOne('bare', 'chat', CHAT_BODY, o.seconds);
  log('profile: gateway, non-streaming');
  const plain = await profileOne('gateway', 'chat', CHAT_BODY, o.seconds);
  log('profile: gateway, streaming');
  const stream = await profileOne('gateway', 'stream', STREAM_BODY, o.seconds);
  const markdown = [
    `The gateway child (and, for comparison, the bare undici proxy) run with \`--cpu-prof --cpu-prof-interval=200\` (µs) under autocannon at 50 connections for ${o.seconds} s ` +
      `(${rps(plain.rps)} req/s non-streaming, ${rps(stream.rps)} req/s streaming, bare proxy ${rps(bare.rps)} req/s; profiling slows all of them); ` +
      'only the samples of that window (after a 2 s warm-up, no start-up) are counted. ' +
      `Profiles: \`${plain.file}\`, \`${stream.file}\`, \`${bare.file}\`; summarize any profile with \`node dist/bench/cpuprofile-summary.js FILE\`. ` +
      'Both make the same system calls per request (one `read` and one `writev` on each side; checked with `strace -c`), so `writev` below is the kernel\'s loopback send, paid alike.',
    '',
    '#### Non-streaming: where the gateway spends more than a bare proxy',
    '',
    perRequestTable(bare, plain),
    '',
    '#### Non-streaming: the gateway',
    '',
    profileMarkdown(plain.summary),
    '',
    '#### Streaming: the gateway',
    '',
    profileMarkdown(stream.summary, 20),
  ].join('\n');
  const area = (p: Profiled, a: string) => ((p.summary.areas.find((x) => x.area === a)?.selfMs ?? 0) * 1000) / p.requests;
  const diffs = [...new Set(plain.summary.areas.map((a) => a.area))]
    .map((a) => ({ a, d: area(plain, a) - area(bare, a) }))
    .sort((x, y) => y.d - x.d)
    .slice(0, 6);
  const extra = ((plain.summary.busyMs - 0) * 1000) / plain.requests - (bare.summary.busyMs * 1000) / bare.requests;
  const notes = [
    `**Profile (non-streaming, 50 connections):** the gateway's busy time is ${extra.toFixed(0)} µs per request above the bare proxy's; the largest differences by area: ` +
      diffs.map((x) => `${x.a} +${x.d.toFixed(1)} µs`).join(', ') +
      '. System calls are the same (one read and one writev per side), so all of it is user-space work: see "Hot-path profile" in bench/results.md.',
  ];
  return {
    title: 'Hot-path profile',
    notes,
    markdown,
    targets: [],
    data: {
      bare: { file: bare.file, rps: bare.rps, requests: bare.requests, summary: bare.summary },
      plain: { file: plain.file, rps: plain.rps, requests: plain.requests, summary: plain.summary },
      stream: { file: stream.file, rps: stream.rps, requests: stream.requests, summary: stream.summary },
    },
  };
}
