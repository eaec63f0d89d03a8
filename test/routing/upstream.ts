import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** How the fake upstream answers one chat request. */
export type Fault =
  | 'ok'
  | '400'
  | '401'
  | '500'
  | '429' // with Retry-After: `retryAfterSeconds` (none when undefined)
  | '503' // the same
  | 'hang' // never answers (until the test closes it)
  | 'reset' // destroys the connection without a response
  | 'cut' // streams: 200 and two chunks, then the connection dies; non-stream: half a JSON body, then dies
  | 'cut_before_first' // streams: 200 and headers, then the connection dies before any chunk
  | 'malformed' // 200 with a body (or first SSE event) that is not JSON
  | 'malformed_later' // streams: a good first event, then one that is not JSON, then [DONE]
  | 'slow'; // answers after `slowMs`

/**
 * A loopback OpenAI-shaped upstream that fails on command: `fault` for every request, or `script` for
 * the next ones (consumed first). Counts chat requests and tracks its sockets so tests can check
 * that nothing is left open.
 */
export class FakeUpstream {
  fault: Fault = 'ok';
  script: Fault[] = [];
  retryAfterSeconds: number | undefined = 1;
  slowMs = 100;
  /** GET /models answers this (the pool's health check). */
  modelsStatus = 200;
  chatHits = 0;
  modelsHits = 0;
  /** Requests whose client went away before we finished (cancelled streams, aborts). */
  clientAborts = 0;
  readonly name: string;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  url = '';

  constructor(name: string) {
    this.name = name;
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  /** Sockets currently open from clients (the gateway's adapters). */
  get openSockets(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url?.endsWith('/models')) {
        this.modelsHits++;
        return this.json(res, this.modelsStatus, this.modelsStatus === 200 ? { object: 'list', data: [{ id: 'up-model', object: 'model', created: 0, owned_by: this.name }] } : { error: { message: 'down', type: 'api_error', param: null, code: null } });
      }
      if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) return this.json(res, 404, { error: { message: 'no route', type: 'not_found', param: null, code: null } });
      this.chatHits++;
      let body: { stream?: boolean; model?: string };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        return this.json(res, 400, { error: { message: 'bad json', type: 'invalid_request_error', param: null, code: null } });
      }
      res.on('close', () => {
        if (!res.writableFinished) this.clientAborts++;
      });
      this.answer(this.script.shift() ?? this.fault, body.stream === true, req, res);
    });
  }

  private answer(fault: Fault, stream: boolean, req: http.IncomingMessage, res: http.ServerResponse): void {
    const err = (status: number, type: string, headers: Record<string, string> = {}) =>
      this.json(res, status, { error: { message: `${this.name} says ${status}`, type, param: null, code: null } }, headers);
    switch (fault) {
      case '400':
        return err(400, 'invalid_request_error');
      case '401':
        return err(401, 'authentication_error');
      case '500':
        return err(500, 'server_error');
      case '429':
        return err(429, 'rate_limit_error', this.retryAfterSeconds === undefined ? {} : { 'retry-after': String(this.retryAfterSeconds) });
      case '503':
        return err(503, 'service_unavailable', this.retryAfterSeconds === undefined ? {} : { 'retry-after': String(this.retryAfterSeconds) });
      case 'hang':
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'malformed':
        if (stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end('data: {"id": "x", "choices": [ not json\n\n');
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"id": "x", "choices": [ not json');
        }
        return;
      case 'malformed_later':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(sseChunk(this.name, { role: 'assistant', content: 'first ' }));
        res.end('data: {"id": "x", "choices": [ not json\n\ndata: [DONE]\n\n');
        return;
      case 'slow':
        this.later(this.slowMs, () => (stream ? this.sse(res, 3) : this.completion(res)));
        return;
      case 'cut':
        if (stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(sseChunk(this.name, { role: 'assistant', content: '' }));
          res.write(sseChunk(this.name, { content: 'partial ' }));
          this.later(20, () => req.socket.destroy());
        } else {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '400' });
          res.write('{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,');
          this.later(20, () => req.socket.destroy());
        }
        return;
      case 'cut_before_first':
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.flushHeaders();
        this.later(20, () => req.socket.destroy());
        return;
      case 'ok':
        return stream ? this.sse(res, 3) : this.completion(res);
    }
  }

  private completion(res: http.ServerResponse): void {
    this.json(res, 200, {
      id: `chatcmpl-${this.name}-${this.chatHits}`,
      object: 'chat.completion',
      created: 1,
      model: 'up-model',
      choices: [{ index: 0, message: { role: 'assistant', content: `hello from ${this.name}` }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 },
    });
  }

  private sse(res: http.ServerResponse, n: number): void {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(sseChunk(this.name, { role: 'assistant', content: '' }));
    for (let i = 0; i < n; i++) res.write(sseChunk(this.name, { content: `${this.name}-${i} ` }));
    res.write(sseChunk(this.name, {}, 'stop'));
    res.end('data: [DONE]\n\n');
  }

  private json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
    res.end(text);
  }
}

function sseChunk(name: string, delta: Record<string, unknown>, finish: string | null = null): string {
  const chunk = { id: `chatcmpl-${name}`, object: 'chat.completion.chunk', created: 1, model: 'up-model', choices: [{ index: 0, delta, finish_reason: finish }] };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}
