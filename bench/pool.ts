/**
 * Pool benchmark: acquire+release per second for this pool, generic-pool, tarn and a bare array pool
 * (the floor), all measured in one process run so only the ratios matter.
 *
 *   npm run bench:pool            prints the table
 *   node dist/bench/pool.js --json [--rounds N]  prints the rows as JSON (bench/run-all runs it so, in a
 *                                                process of its own, as a fresh process measures it)
 */
import { cpus } from 'node:os';
import { pathToFileURL } from 'node:url';
import genericPool from 'generic-pool';
import { Pool as TarnPool } from 'tarn';
import { AdapterPool } from '../src/pool/index.js';

interface Res {
  healthCheck(): Promise<boolean>;
  close(): Promise<void>;
}
const makeRes = (): Res => ({ healthCheck: async () => true, close: async () => {} });

/** The common shape every contender is driven through. */
interface Contender {
  name: string;
  acquire(): Promise<Res>;
  release(r: Res): void;
  destroy(): Promise<void>;
}

const MAX = 10;

/** The floor: a FIFO array pool with no timeouts, no stats, no validation. */
function bareArrayPool(): Contender {
  const free: Res[] = Array.from({ length: MAX }, makeRes);
  const waiters: Array<(r: Res) => void> = [];
  return {
    name: 'bare FIFO array pool (floor)',
    acquire: () => (free.length > 0 ? Promise.resolve(free.pop()!) : new Promise((resolve) => waiters.push(resolve))),
    release: (r) => {
      const w = waiters.shift();
      if (w) w(r);
      else free.push(r);
    },
    destroy: async () => {},
  };
}

async function adapterPool(): Promise<Contender> {
  const pool = new AdapterPool<Res>({
    createAdapter: async () => makeRes(),
    maxPoolSize: MAX,
    minPoolSize: MAX,
    acquireTimeoutMs: 30_000,
    keys: [{ model: 'bench-model', provider: 'bench' }],
  });
  await pool.start();
  return {
    name: 'adapterpool AdapterPool (acquire timeout 30 s, stats on)',
    acquire: () => pool.getAdapter('bench-model', 'bench'),
    release: (r) => void pool.releaseAdapter(r, 'bench-model', 'bench'),
    destroy: () => pool.close(),
  };
}

async function genericPoolContender(timeout: boolean): Promise<Contender> {
  const pool = genericPool.createPool<Res>(
    { create: async () => makeRes(), destroy: async () => {} },
    { max: MAX, min: MAX, ...(timeout ? { acquireTimeoutMillis: 30_000 } : {}) },
  );
  await pool.ready();
  return {
    name: `generic-pool 3${timeout ? ' (acquireTimeoutMillis 30 s)' : ''}`,
    acquire: () => pool.acquire() as Promise<Res>,
    release: (r) => void pool.release(r),
    destroy: async () => {
      await pool.drain();
      await pool.clear();
    },
  };
}

async function tarnContender(): Promise<Contender> {
  const pool = new TarnPool<Res>({
    create: async () => makeRes(),
    destroy: async () => {},
    min: MAX,
    max: MAX,
    acquireTimeoutMillis: 30_000,
  });
  // Warm it to max so every round measures lending, not creating.
  const warm = await Promise.all(Array.from({ length: MAX }, () => pool.acquire().promise));
  for (const r of warm) pool.release(r);
  return {
    name: 'tarn 3 (acquireTimeoutMillis 30 s)',
    acquire: () => pool.acquire().promise,
    release: (r) => void pool.release(r),
    destroy: async () => {
      await pool.destroy();
    },
  };
}

async function uncontended(c: Contender, cycles: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < cycles; i++) {
    const r = await c.acquire();
    c.release(r);
  }
  return cycles / (Number(process.hrtime.bigint() - t0) / 1e9);
}

const holdImmediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const holdMicrotask = (): Promise<void> => Promise.resolve();

async function contended(c: Contender, tasks: number, cycles: number, hold: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: tasks }, async () => {
      for (let i = 0; i < cycles; i++) {
        const r = await c.acquire();
        await hold();
        c.release(r);
      }
    }),
  );
  return (tasks * cycles) / (Number(process.hrtime.bigint() - t0) / 1e9);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export interface PoolBenchRow {
  name: string;
  uncontended: number;
  immediate: number;
  microtask: number;
}

export async function runPoolBench(rounds = 5): Promise<PoolBenchRow[]> {
  const makers: Array<() => Promise<Contender> | Contender> = [
    bareArrayPool,
    adapterPool,
    () => genericPoolContender(false),
    () => genericPoolContender(true),
    tarnContender,
  ];
  const rows: PoolBenchRow[] = [];
  for (const make of makers) {
    const c = await make();
    await uncontended(c, 20_000); // warm-up: let the JIT settle
    await contended(c, 100, 10, holdMicrotask);
    const u: number[] = [];
    const im: number[] = [];
    const mt: number[] = [];
    for (let i = 0; i < rounds; i++) {
      u.push(await uncontended(c, 200_000));
      im.push(await contended(c, 1_000, 100, holdImmediate));
      mt.push(await contended(c, 1_000, 100, holdMicrotask));
    }
    rows.push({ name: c.name, uncontended: median(u), immediate: median(im), microtask: median(mt) });
    await c.destroy();
  }
  return rows;
}

const fmt = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`);

export function poolBenchTable(rows: PoolBenchRow[]): string {
  const base = rows.find((r) => r.name === 'generic-pool 3')!;
  const ours = rows.find((r) => r.name.startsWith('adapterpool'))!;
  const lines = [
    '| pool | uncontended (1 task) | vs generic-pool | 1,000 tasks × 100, hold across setImmediate | vs generic-pool | same, hold one microtask | vs generic-pool |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r === ours ? `**${r.name}**` : r.name} | ${fmt(r.uncontended)}/s | ${(r.uncontended / base.uncontended).toFixed(2)}× | ${fmt(r.immediate)}/s | ${(r.immediate / base.immediate).toFixed(2)}× | ${fmt(r.microtask)}/s | ${(r.microtask / base.microtask).toFixed(2)}× |`,
    );
  }
  return lines.join('\n');
}

export function machineLine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, ${process.platform}/${process.arch}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--rounds');
  const rows = await runPoolBench(i === -1 ? 5 : Number(process.argv[i + 1]));
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(rows));
  } else {
    console.log(`Pool acquire+release per second (max ${MAX}, median of 5 rounds) — ${machineLine()}\n`);
    console.log(poolBenchTable(rows));
    const base = rows.find((r) => r.name === 'generic-pool 3')!;
    const ours = rows.find((r) => r.name.startsWith('adapterpool'))!;
    const u = ours.uncontended / base.uncontended;
    const c = Math.min(ours.immediate / base.immediate, ours.microtask / base.microtask);
    console.log(`\ntarget: ≥ 3× generic-pool uncontended (${u.toFixed(2)}× ${u >= 3 ? 'met' : 'NOT met'}), ≥ 1.5× under contention (${c.toFixed(2)}× ${c >= 1.5 ? 'met' : 'NOT met'})`);
  }
}
