import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfig } from '../../src/config/index.js';
import { PROVIDER_TYPES } from '../../src/providers/registry.js';
import { buildGateway, createLogger, type Gateway } from '../../src/server/index.js';

/** A gateway on an ephemeral loopback port, with its logs captured. */
export interface RunningGateway {
  gw: Gateway;
  /** `http://127.0.0.1:PORT` */
  url: string;
  logs: string[];
  close(): Promise<void>;
}

export async function startGateway(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<RunningGateway> {
  const config = parseConfig(yaml, { source: 'test.yaml', env, providerTypes: PROVIDER_TYPES });
  // Tests keep their usage ledgers out of the working directory.
  let dir: string | undefined;
  if (config.usage.path === './adapterpool-usage.db') {
    dir = mkdtempSync(join(tmpdir(), 'ap-usage-'));
    config.usage.path = join(dir, 'usage.db');
  }
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const gw = await buildGateway(config, { logger: createLogger('debug', sink) });
  const url = await gw.listen({ port: 0 });
  return {
    gw,
    url,
    logs,
    close: async () => {
      await gw.close(2000);
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Raw JSON request to the gateway. */
export async function call(
  url: string,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; key?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(url + path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** Poll `cond` (no timing assertion: just a bound so a broken build fails instead of hanging). */
export async function eventually(cond: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const until = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`never happened: ${what}`);
    await sleep(5);
  }
}

export interface UpstreamRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  res: http.ServerResponse;
  /** Resolves when the client closed the connection before the response ended. */
  aborted: Promise<void>;
}

/**
 * A loopback OpenAI-shaped upstream driven by the test: `GET /v1/models` answers a list, every
 * chat request goes to `onChat`, which answers through `req.res` when it likes.
 */
export class Upstream {
  readonly requests: UpstreamRequest[] = [];
  onChat: (req: UpstreamRequest) => void = (req) => completion(req.res, 'hello from upstream');
  /** `GET /models` (the adapters' health check) answers this status; not 200: an error body. */
  modelsStatus = 200;
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private readonly sockets = new Set<Socket>();
  url = '';

  static async start(): Promise<Upstream> {
    const u = new Upstream();
    u.server.on('connection', (s) => {
      u.sockets.add(s);
      s.on('close', () => u.sockets.delete(s));
    });
    await new Promise<void>((resolve) => u.server.listen(0, '127.0.0.1', resolve));
    u.url = `http://127.0.0.1:${(u.server.address() as AddressInfo).port}/v1`;
    return u;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url?.endsWith('/models')) {
        if (this.modelsStatus !== 200) {
          errorReply(res, this.modelsStatus, `models: ${this.modelsStatus}`);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'up-model', object: 'model', created: 0, owned_by: 'up' }] }));
        return;
      }
      const text = Buffer.concat(chunks).toString();
      const aborted = new Promise<void>((resolve) => res.once('close', () => !res.writableEnded && resolve()));
      const r: UpstreamRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : undefined, res, aborted };
      this.requests.push(r);
      this.onChat(r);
    });
  }
}

export function completion(res: http.ServerResponse, content: string, model = 'up-model'): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: 'chatcmpl-up',
      object: 'chat.completion',
      created: 1,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    }),
  );
}

export function chunkFrame(content: string | null, finish: string | null = null): string {
  const delta = content === null ? {} : { content };
  return `data: ${JSON.stringify({ id: 'chatcmpl-up', object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

export function errorReply(res: http.ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message, type: 'upstream_error', param: null, code: String(status) } }));
}

/** A config with models `up` and `up2` (separate deployments, so one's circuit does not touch the other's) served by the loopback upstream through the openai-compatible adapter. */
export function upstreamConfig(upstreamUrl: string, extra = '', pool = '{ minPoolSize: 1 }'): string {
  return `pool: ${pool}
routing: { maxAttempts: 1, maxAttemptsPerDeployment: 1 }
providers:
  loop: { type: openai-compatible, baseUrl: "${upstreamUrl}", apiKey: "provider-secret-key-123" }
  loop2: { type: openai-compatible, baseUrl: "${upstreamUrl}", apiKey: "provider-secret-key-123" }
  m: { type: mock }
models:
  up: { providers: [{ provider: loop, model: up-model }] }
  up2: { providers: [{ provider: loop2, model: up-model }] }
  demo: { providers: [{ provider: m, model: mock-chat }] }
${extra}`;
}

/**
 * For a describe block: a loopback upstream and a gateway in front of it (`upstreamConfig`), started
 * before its tests and closed after them. Read `up` and `g` inside the tests.
 */
export function upstreamGateway(): { readonly up: Upstream; readonly g: RunningGateway } {
  const s = {} as { up: Upstream; g: RunningGateway };
  before(async () => {
    s.up = await Upstream.start();
    s.g = await startGateway(upstreamConfig(s.up.url));
  });
  after(async () => {
    await s.g.close();
    await s.up.close();
  });
  return s;
}
