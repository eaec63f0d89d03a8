import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Agent } from 'undici';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The machine's Redis (CI starts it if it is not running). */
export const MACHINE_REDIS = process.env.ADAPTERPOOL_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/** A prefix no other test run uses, so tests share the machine's Redis without seeing each other. */
export function uniquePrefix(): string {
  return `adapterpool-test-${randomBytes(4).toString('hex')}:`;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A redis-server of the test's own on a free port, for tests that stop, restart or pause it. */
export class OwnRedis {
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort());
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const deadline = Date.now() + 5000;
    for (;;) {
      const c = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {});
      try {
        await c.connect();
        await c.ping();
        c.disconnect();
        return;
      } catch {
        c.disconnect();
        if (Date.now() > deadline) throw new Error(`redis-server did not start on ${this.port}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return;
    this.child = undefined;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}

export interface Replica {
  url: string;
  child: ChildProcess;
  lines: string[];
  stop(): Promise<void>;
}

/** Start `adapterpool serve` in its own process with this YAML; resolves once it listens. */
export async function startReplica(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<Replica> {
  const dir = await mkdtemp(join(tmpdir(), 'ap-cluster-'));
  const file = join(dir, 'gateway.yaml');
  await writeFile(file, yaml);
  const child = spawn(process.execPath, [MAIN, 'serve', '--config', file, '--port', '0'], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const parts = out.split('\n');
      out = parts.pop()!;
      for (const l of parts) {
        lines.push(l);
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(l);
        if (m) resolve(m[1]!);
      }
    });
    child.stderr!.on('data', (b: Buffer) => lines.push(b.toString()));
    child.once('exit', (code) => reject(new Error(`replica exited early (${code}): ${lines.join('\n')}`)));
  });
  return {
    url,
    child,
    lines,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The tests' client: a bounded set of keep-alive connections, like a real client's pool, so that a
 * load test on a busy machine queues requests instead of opening thousands of sockets.
 */
const client = new Agent({ connections: 32, pipelining: 1 });

export async function chat(url: string, model: string, key?: string): Promise<{ status: number; deployment: string | null; body: unknown }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    // @ts-expect-error undici's dispatcher option is not in the DOM fetch typings
    dispatcher: client,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: res.status, deployment: res.headers.get('x-adapterpool-deployment'), body: await res.json() };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A TCP relay of the test's own between the gateway and a Redis: `pause()` stops forwarding bytes
 * both ways (connections stay open, nothing is answered: a hung Redis), `resume()` delivers what
 * was held back and forwards again. Never touches the Redis behind it.
 */
export class PausableRelay {
  private readonly server = createServer((client) => this.accept(client));
  private readonly sockets = new Set<Socket>();
  private readonly held: Array<{ to: Socket; data: Buffer }> = [];
  private paused = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  static async start(redisUrl: string): Promise<PausableRelay> {
    const u = new URL(redisUrl);
    const relay = new PausableRelay({ host: u.hostname, port: Number(u.port || 6379) });
    await new Promise<void>((r) => relay.server.listen(0, '127.0.0.1', r));
    relay.port = (relay.server.address() as { port: number }).port;
    return relay;
  }

  /** The same Redis URL (db included) through the relay. */
  url(redisUrl: string): string {
    const u = new URL(redisUrl);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const { to, data } of this.held.splice(0)) if (!to.destroyed) to.write(data);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const pipe = (from: Socket, to: Socket) => {
      from.on('data', (data: Buffer) => {
        if (this.paused) this.held.push({ to, data });
        else to.write(data);
      });
      from.on('close', () => {
        this.sockets.delete(from);
        to.destroy();
      });
      from.on('error', () => {});
    };
    pipe(client, upstream);
    pipe(upstream, client);
  }
}
