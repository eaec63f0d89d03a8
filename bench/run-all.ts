/**
 * `npm run bench`: every benchmark of issues #7 and #10 (about 9 minutes), then the summary table into
 * README.md (between `<!-- bench:start -->` and `<!-- bench:end -->`) and the full results into
 * bench/results.md.
 *
 *   BENCH_QUICK=1            a fast smoke run (short rounds, 20 s soak, fewer streams held open)
 *   BENCH_SOAK_SECONDS=N     soak length (default 120)
 *   BENCH_LOADGEN=autocannon use autocannon even when wrk is installed
 *   BENCH_ONLY=a,b           only these sections: pool, overhead, gc, memory, connections, profile, soak, cluster
 *   BENCH_REDIS=URL          the Redis of the cluster section (default redis://127.0.0.1:6379)
 *   BENCH_NO_WRITE=1         print only; write neither README.md nor bench/results.md
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCluster } from './cluster.js';
import { runConnections } from './connections.js';
import { runGc } from './gc.js';
import { runGatewayOverhead } from './gateway-overhead.js';
import { closedLoopLoadgen } from './lib/load.js';
import { log, table, type Section } from './lib/report.js';
import { wrkVersion } from './lib/wrk.js';
import { runMemory } from './memory.js';
import { machineLine, poolBenchTable, type PoolBenchRow } from './pool.js';
import { runProfile } from './profile.js';
import { runSoak } from './soak.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..'); // dist/bench -> repo root
const quick = process.env.BENCH_QUICK === '1';
const soakSeconds = Number(process.env.BENCH_SOAK_SECONDS ?? (quick ? 20 : 120));
const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((s) => s.trim())) : undefined;
const wanted = (name: string) => only === undefined || only.has(name);

if (!Number.isFinite(soakSeconds) || soakSeconds < 5 || soakSeconds > 3600) throw new Error('BENCH_SOAK_SECONDS must be between 5 and 3600');

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** The pool benchmark in a child process of its own: nothing else's heap, JIT state or timers in its way. */
function runPoolChild(rounds: number): Promise<PoolBenchRow[]> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(ROOT, 'dist', 'bench', 'pool.js'), '--json', '--rounds', String(rounds)], { encoding: 'utf8', timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`pool benchmark failed: ${err.message}\n${stderr}`));
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as PoolBenchRow[]);
      } catch (parseErr) {
        reject(new Error(`pool benchmark printed no JSON: ${String(parseErr)}\n${stdout}`));
      }
    });
  });
}

async function poolSection(): Promise<Section> {
  log('pool: acquire+release benchmark (bench/pool.ts, in its own process)');
  const rounds = quick ? 1 : 5;
  const rows = await runPoolChild(rounds);
  const base = rows.find((r) => r.name === 'generic-pool 3')!;
  const ours = rows.find((r) => r.name.startsWith('adapterpool'))!;
  const u = ours.uncontended / base.uncontended;
  const c = Math.min(ours.immediate / base.immediate, ours.microtask / base.microtask);
  return {
    title: 'Pool: acquire + release',
    markdown: `\`node dist/bench/pool.js --json --rounds ${rounds}\` (bench/pool.ts; max 10 adapters, median of ${rounds} round(s)), in a process of its own before any load.\n\n${poolBenchTable(rows)}`,
    targets: [
      { name: 'pool uncontended acquire+release vs generic-pool', value: `${u.toFixed(2)}×`, target: '≥ 3×', met: u >= 3 },
      { name: 'pool under contention vs generic-pool (worse of the two)', value: `${c.toFixed(2)}×`, target: '≥ 1.5×', met: c >= 1.5 },
    ],
    data: rows,
  };
}

const started = Date.now();
const loadAtStart = loadavg();
const machine = `${machineLine()}, ${(totalmem() / 2 ** 30).toFixed(1)} GB RAM (${(freemem() / 2 ** 30).toFixed(1)} GB free at start)`;
const commit = git(['rev-parse', '--short', 'HEAD']);
const dirty = git(['status', '--porcelain', '--', 'src']) !== '';
const command = `${process.env.BENCH_LOADGEN ? `BENCH_LOADGEN=${process.env.BENCH_LOADGEN} ` : ''}${quick ? 'BENCH_QUICK=1 ' : ''}${process.env.BENCH_SOAK_SECONDS ? `BENCH_SOAK_SECONDS=${soakSeconds} ` : ''}${only ? `BENCH_ONLY=${[...only].join(',')} ` : ''}npm run bench`;

const sections: Section[] = [];
const failures: string[] = [];
const steps: Array<[string, () => Promise<Section>]> = [
  ['pool', poolSection],
  ['overhead', () => runGatewayOverhead(quick ? { rounds: 1, seconds: 2, ttftCount: 200 } : { rounds: 3, seconds: 4, ttftCount: 1000 })],
  ['gc', () => runGc({ seconds: quick ? 3 : 8, rate: 1000 })],
  ['memory', () => runMemory({ streams: quick ? 200 : 1000 })],
  ['connections', () => runConnections({ requests: quick ? 2_000 : 10_000 })],
  ['profile', () => runProfile({ seconds: quick ? 3 : 8 })],
  ['soak', () => runSoak({ seconds: soakSeconds, rate: 1000 })],
  ['cluster', () => runCluster(quick ? { rounds: 1, seconds: 2 } : { rounds: 3, seconds: 4 })],
];
for (const [name, run] of steps) {
  if (!wanted(name)) continue;
  try {
    sections.push(await run());
  } catch (err) {
    failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    log(`${name} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
}

const minutes = ((Date.now() - started) / 60_000).toFixed(1);
const targets = sections.flatMap((s) => s.targets);
const summary = table(
  ['target', 'measured', 'goal', 'met'],
  targets.map((t) => [t.name, t.value, t.target, t.met ? 'yes' : '**no**']),
);
const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
const loadAtEnd = loadavg();
const header = [
  `Command: \`${command}\` (${minutes} min) — machine: ${machine} — commit \`${commit || 'unknown'}\`${dirty ? ' with uncommitted changes in src/' : ''} — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
  `Machine load (1 / 5 / 15 min load average; the machine has ${cpus().length} cores): ${la(loadAtStart)} at the start, ${la(loadAtEnd)} at the end${loadAtStart[0]! > 1 || loadAtEnd[0]! > 1 ? ' — **other work shared the cores: absolute figures and pauses are noisier than on a quiet machine**' : ''}.`,
  `Load generator: ${closedLoopLoadgen() === 'wrk' ? `${wrkVersion()}, one thread, in its own process, for closed-loop runs; autocannon 9 in the benchmark process for fixed-rate and fixed-count runs` : 'autocannon 9 in the benchmark process (wrk is not installed)'}; ` +
    'upstream (bench/upstream.ts, Node `http`, constant OpenAI-shaped replies), bare proxy and gateway each in a child process on 127.0.0.1. ' +
    'Every figure is a ratio or a difference against a baseline measured in the same run.',
].join('\n');
const notes = sections.flatMap((s) => s.notes ?? []);
const notesBlock = notes.length > 0 ? `\n\n### Closing notes: what stands in the way\n\n${notes.map((n) => `- ${n}`).join('\n')}` : '';
const failNote = failures.length > 0 ? `\n\n**Sections that failed:** ${failures.map((f) => `\`${f}\``).join('; ')}` : '';

const results = [
  '# Benchmark results (issues #7 and #10)',
  '',
  'Generated by `npm run bench` (bench/run-all.ts); do not edit by hand.',
  '',
  header,
  '',
  '## Targets',
  '',
  summary + failNote + notesBlock,
  '',
  ...sections.flatMap((s) => [`## ${s.title}`, '', s.markdown, '']),
].join('\n');

const readmeBlock = [
  '',
  header,
  '',
  summary + failNote + notesBlock,
  '',
  'Full tables (overhead against a bare proxy, CPU per request, memory, connections, soak, profile): [bench/results.md](bench/results.md).',
  '',
].join('\n');

console.log(results);

if (process.env.BENCH_NO_WRITE !== '1') {
  writeFileSync(join(ROOT, 'bench', 'results.md'), results);
  log('wrote bench/results.md');
  const readmePath = join(ROOT, 'README.md');
  const START = '<!-- bench:start -->';
  const END = '<!-- bench:end -->';
  const readme = readFileSync(readmePath, 'utf8');
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a === -1 || b === -1 || b < a) {
    log(`README.md has no ${START} … ${END} markers: not written. The table for it:\n${readmeBlock}`);
  } else {
    writeFileSync(readmePath, readme.slice(0, a + START.length) + '\n' + readmeBlock + readme.slice(b));
    log('wrote the table into README.md');
  }
}
log(`done in ${minutes} min: ${targets.filter((t) => t.met).length}/${targets.length} targets met${failures.length ? `, ${failures.length} section(s) failed` : ''}`);
process.exit(failures.length > 0 ? 1 : 0);
