/**
 * Child processes of the benchmarks (the upstream and the gateway), each with a tiny IPC request/reply.
 * Every child started here is killed when the parent exits, however it exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench/lib
export const BENCH_DIR = dirname(here); // dist/bench
export const WORK_DIR = join(tmpdir(), `adapterpool-bench-${process.pid}`);
mkdirSync(WORK_DIR, { recursive: true });

const live = new Set<ChildProcess>();
function killAll(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  /** Send a command; resolves with the reply (rejects after `timeoutMs`). */
  call<T = Record<string, unknown>>(cmd: string, timeoutMs?: number): Promise<T>;
  /** Ask it to close and wait for it to exit; SIGKILL if it does not within `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
  /** Last lines of its log (for failures). */
  logTail(lines?: number): string;
}

let seq = 0;

/** A program that runs node under it (valgrind): `execPath ...args node ...execArgv script`. */
export interface Wrapper {
  execPath: string;
  args: string[];
  /** How long the child may take to be ready (a wrapped node starts slowly). */
  readyTimeoutMs: number;
}

async function start<R>(script: string, name: string, env: Record<string, string>, execArgv: string[], wrapper?: Wrapper): Promise<{ child: Child; ready: R }> {
  const logFile = join(WORK_DIR, `${name}-${++seq}.log`);
  const fd = openSync(logFile, 'w');
  const proc = fork(join(BENCH_DIR, script), [], {
    env: { ...process.env, ...env },
    ...(wrapper ? { execPath: wrapper.execPath, execArgv: [...wrapper.args, process.execPath, ...execArgv] } : { execArgv }),
    stdio: ['ignore', fd, fd, 'ipc'],
  });
  closeSync(fd);
  live.add(proc);
  proc.once('exit', () => live.delete(proc));

  const pending = new Map<number, (r: unknown) => void>();
  let nextId = 0;
  let readyResolve: (r: R) => void;
  let readyReject: (e: Error) => void;
  const ready = new Promise<R>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  proc.on('message', (m: { type?: string; id?: number }) => {
    if (m.type === 'ready') readyResolve(m as R);
    else if (m.id !== undefined) {
      pending.get(m.id)?.(m);
      pending.delete(m.id);
    }
  });
  proc.once('exit', (code, signal) => readyReject(new Error(`${name} exited before it was ready (${code ?? signal}): ${tail(logFile, 20)}`)));
  const readyMs = wrapper?.readyTimeoutMs ?? 20_000;
  const timer = setTimeout(() => readyReject(new Error(`${name} not ready within ${readyMs / 1000} s: ${tail(logFile, 20)}`)), readyMs);

  const child: Child = {
    proc,
    pid: proc.pid!,
    logFile,
    call<T>(cmd: string, timeoutMs = 30_000): Promise<T> {
      const id = ++nextId;
      return new Promise<T>((resolve, reject) => {
        const t = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: no reply to ${cmd} within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, (r) => {
          clearTimeout(t);
          resolve(r as T);
        });
        if (!proc.connected) {
          clearTimeout(t);
          pending.delete(id);
          reject(new Error(`${name} is not running`));
          return;
        }
        proc.send({ cmd, id });
      });
    },
    async stop(timeoutMs = 10_000): Promise<void> {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      const kill = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      try {
        if (proc.connected) await child.call('close', timeoutMs).catch(() => proc.kill('SIGKILL'));
        await exited;
      } finally {
        clearTimeout(kill);
      }
    },
    logTail: (lines = 20) => tail(logFile, lines),
  };
  try {
    const r = await ready;
    return { child, ready: r };
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export interface Upstream extends Child {
  readonly port: number;
  /** Its chat URL, e.g. http://127.0.0.1:PORT/v1/chat/completions */
  readonly chatUrl: string;
  readonly baseUrl: string;
}

export async function startUpstream(): Promise<Upstream> {
  const { child, ready } = await start<{ port: number }>('upstream.js', 'upstream', {}, []);
  const baseUrl = `http://127.0.0.1:${ready.port}/v1`;
  return Object.assign(child, { port: ready.port, baseUrl, chatUrl: `${baseUrl}/chat/completions` });
}

export const API_KEY = 'sk-bench-0123456789';

export interface GatewayChildOptions {
  upstream: Upstream;
  /** The deployment's `pool.maxPoolSize`. */
  maxPoolSize?: number;
  /** Extra per-deployment pool fields (e.g. `maxUses`). */
  pool?: Record<string, unknown>;
  /** Extra node flags (e.g. `--cpu-prof`). */
  execArgv?: string[];
  logLevel?: string;
  /** Top-level config sections merged over the bench's (e.g. `{ usage: { enabled: false } }`). */
  extra?: Record<string, unknown>;
  /** Run the child under this program (bench/instructions.ts: callgrind). */
  wrapper?: Wrapper;
}

export interface GatewayChild extends Child {
  readonly url: string;
  readonly chatUrl: string;
  readonly maxPoolSize: number;
}

/** The gateway config the benchmarks use: one model, one openai-compatible deployment, one API key, defaults otherwise. */
let ledgers = 0;

export function gatewayConfig(o: GatewayChildOptions): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0 },
    // The usage ledger stays on (every feature on), in the benchmark's scratch directory.
    usage: { path: join(WORK_DIR, `usage-${++ledgers}.db`) },
    auth: { apiKeys: [API_KEY] },
    logging: { level: o.logLevel ?? 'info' },
    providers: { up: { type: 'openai-compatible', baseUrl: o.upstream.baseUrl } },
    models: {
      bench: { providers: [{ provider: 'up', model: 'up-model', pool: { maxPoolSize: o.maxPoolSize ?? 10, ...o.pool } }] },
    },
    ...o.extra,
  };
}

export async function startGateway(o: GatewayChildOptions): Promise<GatewayChild> {
  const env = { BENCH_GATEWAY_CONFIG: JSON.stringify(gatewayConfig(o)) };
  const { child, ready } = await start<{ url: string }>('gateway-child.js', 'gateway', env, ['--expose-gc', ...(o.execArgv ?? [])], o.wrapper);
  return Object.assign(child, { url: ready.url, chatUrl: `${ready.url}/v1/chat/completions`, maxPoolSize: o.maxPoolSize ?? 10 });
}

export interface MemoryUsage {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}
export interface CpuUsage {
  user: number;
  system: number;
}

/** The bare undici proxy (bench/bare-proxy.ts): the floor any Node proxy pays on this machine. */
export async function startBareProxy(upstream: Upstream, execArgv: string[] = [], wrapper?: Wrapper): Promise<GatewayChild> {
  const { child, ready } = await start<{ url: string }>('bare-proxy.js', 'bare-proxy', { BENCH_UPSTREAM: upstream.baseUrl }, execArgv, wrapper);
  return Object.assign(child, { url: ready.url, chatUrl: `${ready.url}/v1/chat/completions`, maxPoolSize: 64 });
}

/** bench/json-proxy.ts: the bare proxy plus JSON.parse and JSON.stringify of the body — what reading the request costs. */
export async function startJsonProxy(upstream: Upstream, execArgv: string[] = []): Promise<GatewayChild> {
  const { child, ready } = await start<{ url: string }>('json-proxy.js', 'json-proxy', { BENCH_UPSTREAM: upstream.baseUrl }, execArgv);
  return Object.assign(child, { url: ready.url, chatUrl: `${ready.url}/v1/chat/completions`, maxPoolSize: 64 });
}

/** A hello-world server (bench/hello.ts): Node `http` or a fastify route, no upstream — fastify's own floor. */
export async function startHello(kind: 'node' | 'fastify'): Promise<GatewayChild> {
  const { child, ready } = await start<{ url: string }>('hello.js', `hello-${kind}`, { BENCH_HELLO: kind }, []);
  return Object.assign(child, { url: ready.url, chatUrl: `${ready.url}/v1/chat/completions`, maxPoolSize: 0 });
}
