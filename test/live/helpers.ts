import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfigFile } from '../../src/config/index.js';
import { PROVIDER_TYPES } from '../../src/providers/registry.js';
import { buildGateway, createLogger, type Gateway } from '../../src/server/index.js';

/**
 * A loopback OpenAI-shaped upstream for reload tests: records the Authorization header of each chat
 * request, counts connections opened and closed, streams `chunks` frames `chunkDelayMs` apart, and
 * can hold streams after their first frame until `releaseHeld()`.
 */
export class LiveUpstream {
  readonly name: string;
  chunks = 3;
  chunkDelayMs = 2;
  /** Streams stop after their first frame until `releaseHeld()`. */
  hold = false;
  readonly auth: string[] = [];
  chatHits = 0;
  opened = 0;
  closed = 0;
  url = '';
  private readonly held: Array<() => void> = [];
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(name: string) {
    this.name = name;
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    this.server.on('connection', (s) => {
      this.opened++;
      this.sockets.add(s);
      s.on('close', () => {
        this.closed++;
        this.sockets.delete(s);
      });
    });
  }

  static async start(name: string): Promise<LiveUpstream> {
    const u = new LiveUpstream(name);
    await new Promise<void>((resolve) => u.server.listen(0, '127.0.0.1', resolve));
    u.url = `http://127.0.0.1:${(u.server.address() as AddressInfo).port}/v1`;
    return u;
  }

  /** Connections from the gateway open now. */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** Streams waiting in `hold`. */
  get heldStreams(): number {
    return this.held.length;
  }

  releaseHeld(): void {
    this.hold = false;
    for (const go of this.held.splice(0)) go();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url?.endsWith('/models')) {
        return json(res, 200, { object: 'list', data: [{ id: 'up-model', object: 'model', created: 0, owned_by: this.name }] });
      }
      this.chatHits++;
      this.auth.push(req.headers.authorization ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { stream?: boolean; model?: string };
      if (body.stream !== true) {
        return json(res, 200, {
          id: `chatcmpl-${this.name}`,
          object: 'chat.completion',
          created: 1,
          model: body.model ?? 'up-model',
          choices: [{ index: 0, message: { role: 'assistant', content: `hello from ${this.name}` }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
        });
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(frame(this.name, { role: 'assistant', content: '' }));
      let i = 0;
      const next = (): void => {
        if (res.destroyed) return;
        if (i < this.chunks) {
          res.write(frame(this.name, { content: `${this.name}-${i++} ` }));
          this.later(this.chunkDelayMs, next);
          return;
        }
        res.write(frame(this.name, {}, 'stop'));
        res.end('data: [DONE]\n\n');
      };
      if (this.hold) this.held.push(next);
      else this.later(this.chunkDelayMs, next);
    });
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}

function frame(name: string, delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({ id: `chatcmpl-${name}`, object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

/** A gateway started from a config FILE (so it can reload it), on an ephemeral loopback port, logs captured. */
export interface FileGateway {
  gw: Gateway;
  url: string;
  file: string;
  dir: string;
  logs: string[];
  /** Parsed log lines. */
  lines(): Array<Record<string, any>>;
  write(yaml: string): Promise<void>;
  close(): Promise<void>;
}

export async function startFileGateway(yaml: string, env: NodeJS.ProcessEnv = {}, level = 'info'): Promise<FileGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'adapterpool-live-'));
  const file = join(dir, 'gateway.yaml');
  await writeFile(file, yaml);
  const config = await loadConfigFile(file, { providerTypes: PROVIDER_TYPES, env });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const gw = await buildGateway(config, { logger: createLogger(level, sink), configFile: file, env });
  const url = await gw.listen({ port: 0 });
  return {
    gw,
    url,
    file,
    dir,
    logs,
    lines: () => logs.flatMap((l) => l.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as Record<string, any>),
    write: (text) => writeFile(file, text),
    close: async () => {
      await gw.close(5000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** POST /v1/admin/reload. */
export async function reloadVia(url: string, key?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}/v1/admin/reload`, { method: 'POST', headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });
  return { status: res.status, json: await res.json() };
}
