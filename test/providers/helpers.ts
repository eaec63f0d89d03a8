import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

export interface Upstream {
  url: string;
  port: number;
  server: http.Server;
  /** TCP connections the server accepted. */
  connections: number;
  requests: ReceivedRequest[];
  /** Resolves when the request with this index saw its socket close before the response finished. */
  closed: Promise<void>;
  close(): Promise<void>;
}

export type Handler = (req: ReceivedRequest, res: http.ServerResponse, raw: http.IncomingMessage) => void | Promise<void>;

/** A real HTTP upstream on 127.0.0.1:0. The body is read before the handler runs. */
export async function startUpstream(handler: Handler): Promise<Upstream> {
  let onClosed!: () => void;
  const closed = new Promise<void>((r) => (onClosed = r));
  const up: Upstream = {
    url: '',
    port: 0,
    server: undefined as unknown as http.Server,
    connections: 0,
    requests: [],
    closed,
    close: async () => {
      up.server.closeAllConnections();
      await new Promise<void>((r) => up.server.close(() => r()));
    },
  };
  up.server = http.createServer(async (raw, res) => {
    const chunks: Buffer[] = [];
    for await (const c of raw) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let json: unknown;
    try {
      json = body ? JSON.parse(body) : undefined;
    } catch {}
    const req: ReceivedRequest = { method: raw.method ?? '', url: raw.url ?? '', headers: raw.headers, body, json };
    up.requests.push(req);
    res.on('close', () => {
      if (!res.writableFinished) onClosed();
    });
    try {
      await handler(req, res, raw);
    } catch {
      res.destroy();
    }
  });
  up.server.on('connection', () => up.connections++);
  await new Promise<void>((r) => up.server.listen(0, '127.0.0.1', () => r()));
  up.port = (up.server.address() as AddressInfo).port;
  up.url = `http://127.0.0.1:${up.port}`;
  return up;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sseHead(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
}

export const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

export function completion(content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'upstream-model',
    choices: [{ index: 0, message: { role: 'assistant', content, ...extra }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  };
}

export function chunk(delta: Record<string, unknown>, finish: string | null = null): string {
  return JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] });
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
