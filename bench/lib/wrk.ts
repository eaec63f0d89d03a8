/**
 * wrk as the load generator when it is installed (`apt-get install wrk`): a separate C process that
 * spends a few µs of CPU per request, where autocannon in the benchmark process spends ~20 µs and
 * takes a share of the two cores the servers need. autocannon stays the fallback.
 *
 * One thread (`-t1`), closed loop, N connections; a Lua script sets the POST body and prints the
 * figures as JSON at the end (latency in µs from wrk's own histogram, the load generator's CPU time
 * from `os.clock()`).
 */
import { execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORK_DIR } from './children.js';

let found: string | null | undefined;

/** wrk's path when it is installed (BENCH_LOADGEN=autocannon forces the fallback). */
export function wrkPath(): string | null {
  if (found !== undefined) return found;
  if (process.env.BENCH_LOADGEN === 'autocannon') return (found = null);
  try {
    found = execFileSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
  } catch {
    found = null;
  }
  return found;
}

export function wrkVersion(): string {
  const p = wrkPath();
  if (p === null) return '';
  try {
    // `wrk -v` prints its version line and exits 1.
    execFileSync(p, ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const out = String((err as { stdout?: string }).stdout ?? '');
    return out.split('\n')[0]?.split('Copyright')[0]?.trim() ?? 'wrk';
  }
  return 'wrk';
}

const scripts = new Map<string, string>();

function scriptFor(body: string, headers: Record<string, string>): string {
  const id = JSON.stringify([body, headers]);
  let file = scripts.get(id);
  if (file !== undefined) return file;
  file = join(WORK_DIR, `wrk-${scripts.size}.lua`);
  const lua = Object.entries(headers)
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
    .join('\n');
  writeFileSync(
    file,
    `wrk.method = "POST"
wrk.body = [==[${body}]==]
${lua}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n@@wrk {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"meanUs":%.3f,"p50Us":%d,"p99Us":%d,"maxUs":%d,"cpuS":%.6f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(99), latency.max, os.clock()))
end
`,
  );
  scripts.set(id, file);
  return file;
}

export interface WrkResult {
  /** 2xx responses per second. */
  rps: number;
  ok: number;
  /** Socket errors, timeouts and non-2xx. */
  failed: number;
  /** Latencies in ms. */
  p50: number;
  p99: number;
  mean: number;
  durationS: number;
  /** CPU seconds wrk itself spent (user + system, all its threads). */
  cpuS: number;
}

/** One closed-loop wrk run: `connections` connections on one thread for `durationS` seconds. */
export function runWrk(o: { url: string; body: string; headers: Record<string, string>; connections: number; durationS: number }): Promise<WrkResult> {
  const p = wrkPath();
  if (p === null) throw new Error('wrk is not installed');
  const args = ['-t1', `-c${o.connections}`, `-d${o.durationS}s`, '--timeout', '10s', '-s', scriptFor(o.body, o.headers), o.url];
  return new Promise((resolve, reject) => {
    execFile(p, args, { encoding: 'utf8', timeout: (o.durationS + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stderr}`));
      const line = stdout.split('\n').find((l) => l.startsWith('@@wrk '));
      if (line === undefined) return reject(new Error(`wrk printed no result:\n${stdout}\n${stderr}`));
      const r = JSON.parse(line.slice(6)) as {
        requests: number;
        durationUs: number;
        connect: number;
        read: number;
        write: number;
        status: number;
        timeout: number;
        meanUs: number;
        p50Us: number;
        p99Us: number;
        cpuS: number;
      };
      const durationS = r.durationUs / 1e6;
      const ok = r.requests - r.status;
      resolve({
        rps: ok / durationS,
        ok,
        failed: r.connect + r.read + r.write + r.status + r.timeout,
        p50: r.p50Us / 1000,
        p99: r.p99Us / 1000,
        mean: r.meanUs / 1000,
        durationS,
        cpuS: r.cpuS,
      });
    });
  });
}
