/**
 * Summarize a V8 .cpuprofile: self time per function (name, file:line), self time per area
 * (our src/, fastify, undici, pino, node internals, GC …), and total (inclusive) time of our functions.
 *
 *   node dist/bench/cpuprofile-summary.js FILE.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  area: string;
  selfMs: number;
  selfPct: number;
  /** Inclusive time (the function and what it calls), counted once per sample even when recursive. */
  totalMs: number;
  totalPct: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Non-idle time. */
  busyMs: number;
  top: ProfileEntry[];
  areas: Array<{ area: string; selfMs: number; pct: number }>;
  /** Our own functions (src/) by inclusive time. */
  ours: ProfileEntry[];
}

function shortUrl(url: string): string {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length);
  const dist = u.indexOf('/dist/');
  if (dist >= 0) return u.slice(dist + '/dist/'.length);
  return u;
}

function areaOf(f: CallFrame): string {
  const u = f.url;
  if (!u) {
    if (f.functionName === '(garbage collector)') return 'GC';
    if (f.functionName === '(idle)') return 'idle';
    if (f.functionName === '(program)') return 'V8/native (program)';
    return 'native / builtins';
  }
  if (u.startsWith('node:')) {
    const parts = u.slice(5).split('/');
    const mod = parts[0] === 'internal' ? (parts[1] ?? 'internal') : parts[0]!;
    return `node:${mod.replace(/\.js$/, '')}`;
  }
  const nm = u.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (nm) return nm[1]!;
  const src = u.match(/\/dist\/(src\/[^/]+|bench)\//);
  if (src) return `adapterpool ${src[1]}`;
  return shortUrl(u);
}

/** `window`: only samples taken between these two monotonic-clock times (µs, as `process.hrtime` / 1000 in the profiled process). */
export function summarizeProfile(file: string, topN = 30, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const selfUs = new Map<number, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    t += p.timeDeltas[i] ?? 0;
    if (window !== undefined && (t < window.fromUs || t > window.toUs)) continue;
    const dt = p.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const key = (f: CallFrame) => `${f.functionName || '(anonymous)'}\u0000${f.url}\u0000${f.lineNumber}`;
  const self = new Map<string, { f: CallFrame; us: number }>();
  const total = new Map<string, { f: CallFrame; us: number }>();
  const areas = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    totalUs += us;
    const a = areaOf(n.callFrame);
    if (a === 'idle') idleUs += us;
    areas.set(a, (areas.get(a) ?? 0) + us);
    const k = key(n.callFrame);
    const s = self.get(k) ?? { f: n.callFrame, us: 0 };
    s.us += us;
    self.set(k, s);
    // Inclusive: walk to the root, counting each distinct function once for this sample's time.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      const kk = key(f);
      if (seen.has(kk)) continue;
      seen.add(kk);
      const t = total.get(kk) ?? { f, us: 0 };
      t.us += us;
      total.set(kk, t);
    }
  }
  const busyUs = totalUs - idleUs;
  const entry = (k: string, f: CallFrame): ProfileEntry => {
    const s = self.get(k)?.us ?? 0;
    const t = total.get(k)?.us ?? 0;
    return {
      name: f.functionName || '(anonymous)',
      where: f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '',
      area: areaOf(f),
      selfMs: s / 1000,
      selfPct: busyUs > 0 ? (100 * s) / busyUs : 0,
      totalMs: t / 1000,
      totalPct: busyUs > 0 ? (100 * t) / busyUs : 0,
    };
  };
  const top = [...self.entries()]
    .filter(([, v]) => areaOf(v.f) !== 'idle')
    .sort((a, b) => b[1].us - a[1].us)
    .slice(0, topN)
    .map(([k, v]) => entry(k, v.f));
  const ours = [...total.entries()]
    .filter(([, v]) => /\/dist\/src\//.test(v.f.url))
    .sort((a, b) => b[1].us - a[1].us)
    .slice(0, topN)
    .map(([k, v]) => entry(k, v.f));
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    top,
    areas: [...areas.entries()]
      .filter(([a]) => a !== 'idle')
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: us / 1000, pct: busyUs > 0 ? (100 * us) / busyUs : 0 })),
    ours,
  };
}

export function profileMarkdown(s: ProfileSummary, topN = 25): string {
  const pct = (v: number) => `${v.toFixed(1)} %`;
  const lines: string[] = [];
  lines.push(`Busy (non-idle) time ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled; percentages are of busy time.`, '');
  lines.push('| area | self time | share |', '|---|---|---|');
  for (const a of s.areas.slice(0, 14)) lines.push(`| ${a.area} | ${a.selfMs.toFixed(0)} ms | ${pct(a.pct)} |`);
  lines.push('', '| function (top self time) | where | self | total |', '|---|---|---|---|');
  for (const e of s.top.slice(0, topN)) lines.push(`| \`${e.name}\` | ${e.where} | ${pct(e.selfPct)} | ${pct(e.totalPct)} |`);
  lines.push('', '| our function (top inclusive time) | where | total | self |', '|---|---|---|---|');
  for (const e of s.ours.slice(0, Math.min(topN, 20))) lines.push(`| \`${e.name}\` | ${e.where} | ${pct(e.totalPct)} | ${pct(e.selfPct)} |`);
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node dist/bench/cpuprofile-summary.js FILE.cpuprofile [--top N]');
    process.exit(2);
  }
  const i = process.argv.indexOf('--top');
  const n = i > 0 ? Number(process.argv[i + 1]) : 30;
  console.log(profileMarkdown(summarizeProfile(file, n), n));
}
