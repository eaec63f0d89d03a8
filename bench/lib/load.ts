/**
 * Load generation: wrk for closed-loop runs when it is installed (bench/lib/wrk.ts), else autocannon
 * (closed loop, N connections) with every response time kept at full precision (autocannon's own
 * histogram rounds to whole milliseconds); autocannon always for a fixed rate or a fixed count of
 * requests (wrk has neither). And a small sequential client for time to first token.
 */
import http from 'node:http';
import autocannon from 'autocannon';
import { API_KEY } from './children.js';
import { runWrk, wrkPath } from './wrk.js';

export const CHAT_BODY = JSON.stringify({
  model: 'bench',
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'Say hello.' },
  ],
  max_tokens: 16,
  temperature: 0,
});
export const STREAM_BODY = JSON.stringify({ ...JSON.parse(CHAT_BODY), stream: true });
export const HOLD_BODY = JSON.stringify({ ...JSON.parse(CHAT_BODY), stream: true, bench_hold: true });

export const HEADERS = { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` };

export interface LoadOptions {
  url: string;
  body?: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  durationS?: number;
  amount?: number;
  /** Requests per second across all connections (open-ish loop); unset = closed loop. */
  rate?: number;
}

export interface LoadResult {
  /** 2xx responses per second of wall time. */
  rps: number;
  ok: number;
  /** Errors, timeouts and non-2xx. */
  failed: number;
  p50: number;
  p99: number;
  mean: number;
  durationS: number;
  /** CPU µs the load generator spent (user + system). */
  loadgenCpuUs: number;
  /** Which load generator ran. */
  loadgen: 'wrk' | 'autocannon';
}

/** The load generator closed-loop runs use: wrk when installed, else autocannon. */
export function closedLoopLoadgen(): 'wrk' | 'autocannon' {
  return wrkPath() !== null ? 'wrk' : 'autocannon';
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  if (o.rate === undefined && o.amount === undefined && wrkPath() !== null) {
    const r = await runWrk({ url: o.url, body: o.body ?? CHAT_BODY, headers: HEADERS, connections: o.connections, durationS: o.durationS ?? 5 });
    return { ...r, loadgenCpuUs: r.cpuS * 1e6, loadgen: 'wrk' };
  }
  return runAutocannon(o);
}

async function runAutocannon(o: LoadOptions): Promise<LoadResult> {
  const cpu0 = process.cpuUsage();
  let times = new Float64Array(1 << 16);
  let n = 0;
  const instance = autocannon({
    url: o.url,
    method: 'POST',
    headers: HEADERS,
    body: o.body ?? CHAT_BODY,
    connections: o.connections,
    pipelining: 1,
    timeout: 30,
    ...(o.amount !== undefined ? { amount: o.amount } : { duration: o.durationS ?? 5 }),
    ...(o.rate !== undefined ? { overallRate: o.rate } : {}),
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status < 200 || status >= 300) return;
    if (n === times.length) {
      const bigger = new Float64Array(times.length * 2);
      bigger.set(times);
      times = bigger;
    }
    times[n++] = ms;
  });
  const t0 = process.hrtime.bigint();
  const r = await instance;
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const sorted = times.slice(0, n).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return {
    rps: n / wall,
    ok: n,
    failed: r.errors + r.timeouts + r.non2xx,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    mean: n > 0 ? sum / n : NaN,
    durationS: wall,
    loadgenCpuUs: cpu.user + cpu.system,
    loadgen: 'autocannon',
  };
}

export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface TtftResult {
  p50: number;
  p99: number;
  mean: number;
  /** Whole stream, request sent -> end. */
  totalP50: number;
  count: number;
  failed: number;
}

/**
 * Sequential streaming requests over one keep-alive connection: time from sending the request to the
 * first body bytes that carry a `data:` frame.
 */
export async function measureTtft(url: string, count: number, timeLimitMs: number): Promise<TtftResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const u = new URL(url);
  const body = Buffer.from(STREAM_BODY);
  const ttft: number[] = [];
  const total: number[] = [];
  let failed = 0;
  const until = Date.now() + timeLimitMs;
  try {
    for (let i = 0; i < count && Date.now() < until; i++) {
      try {
        const r = await oneStream(agent, u, body);
        ttft.push(r.ttft);
        total.push(r.total);
      } catch {
        failed++;
        if (failed > 10) throw new Error(`time to first token: more than 10 failed requests to ${url}`);
      }
    }
  } finally {
    agent.destroy();
  }
  const s = [...ttft].sort((a, b) => a - b);
  return {
    p50: percentile(s, 0.5),
    p99: percentile(s, 0.99),
    mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length),
    totalP50: median(total),
    count: s.length,
    failed,
  };
}

function oneStream(agent: http.Agent, u: URL, body: Buffer): Promise<{ ttft: number; total: number }> {
  return new Promise((resolve, reject) => {
    let t0 = 0n;
    let first = 0;
    const req = http.request(
      {
        agent,
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: { ...HEADERS, 'content-length': body.length },
        timeout: 10_000,
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`status ${res.statusCode}`));
          return;
        }
        res.on('data', (b: Buffer) => {
          if (first === 0 && b.includes('data:')) first = Number(process.hrtime.bigint() - t0) / 1e6;
        });
        res.on('end', () => {
          if (first === 0) reject(new Error('no data frame'));
          else resolve({ ttft: first, total: Number(process.hrtime.bigint() - t0) / 1e6 });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    t0 = process.hrtime.bigint();
    req.end(body);
  });
}
