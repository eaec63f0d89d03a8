/**
 * The fastest OpenAI-shaped upstream we can write: Node `http` on 127.0.0.1, constant replies built once.
 * Run as a child process by the benchmarks (IPC for its port and counters); never used by the gateway itself.
 *
 *   POST …/chat/completions               -> a chat.completion JSON
 *   POST … with "stream":true             -> SSE: 20 chunks and [DONE], each its own write: the first at once, the others one per event-loop turn
 *   POST … with "bench_hold":true too     -> SSE: the first chunk, then held open until told `release`
 *   GET  …/models                         -> a model list (the gateway's health check)
 *
 * IPC in:  { cmd: 'stats' | 'release' | 'reset' | 'close', id }
 * IPC out: { type: 'ready', port } then { id, ...reply }
 */
import http from 'node:http';
import { STREAM_CHUNKS } from './lib/shape.js';

const MAX_HOLD_MS = 120_000;

const COMPLETION = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'up-model',
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 },
  }),
);
const JSON_HEADERS = { 'content-type': 'application/json', 'content-length': String(COMPLETION.length) };

const chunk = (delta: Record<string, unknown>, finish: string | null = null): string =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'up-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
// A stream of STREAM_CHUNKS chunk frames (FIRST: the role; REST: the tokens, the finish, then `[DONE]`).
const TOKENS = ['Hello', '!', ' How', ' can', ' I', ' help', ' you', ' today', '?', ' Ask', ' me', ' anything', ':', ' code', ',', ' text', ' or', ' maths'];
const FIRST = Buffer.from(chunk({ role: 'assistant', content: '' }));
// Each frame is its own write, as a token-by-token upstream sends them.
const REST = [...TOKENS.map((t) => chunk({ content: t })), chunk({}, 'stop'), 'data: [DONE]\n\n'].map((f) => Buffer.from(f));
if (REST.length !== STREAM_CHUNKS) throw new Error('upstream: chunk count');
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

const MODELS = Buffer.from(JSON.stringify({ object: 'list', data: [{ id: 'up-model', object: 'model', created: 0, owned_by: 'bench' }] }));
const MODELS_HEADERS = { 'content-type': 'application/json', 'content-length': String(MODELS.length) };

let connections = 0;
let requests = 0;
let streams = 0;
const held = new Set<http.ServerResponse>();

function finish(res: http.ServerResponse): void {
  held.delete(res);
  writeRest(res, 0);
}

function writeRest(res: http.ServerResponse, i: number): void {
  if (res.destroyed) return;
  if (i === REST.length - 1) {
    res.end(REST[i]);
    return;
  }
  res.write(REST[i]);
  setImmediate(writeRest, res, i + 1);
}

function reply(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
  requests++;
  if (body.indexOf('"stream":true') === -1) {
    res.writeHead(200, JSON_HEADERS);
    res.end(COMPLETION);
    return;
  }
  streams++;
  res.writeHead(200, SSE_HEADERS);
  res.write(FIRST);
  if (body.indexOf('"bench_hold":true') === -1) {
    setImmediate(finish, res);
    return;
  }
  held.add(res);
  res.once('close', () => held.delete(res));
  setTimeout(finish, MAX_HOLD_MS, res).unref();
}

const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, MODELS_HEADERS);
    res.end(MODELS);
    req.resume();
    return;
  }
  const parts: Buffer[] = [];
  req.on('data', (b: Buffer) => parts.push(b));
  req.on('end', () => reply(req, res, parts.length === 1 ? parts[0]! : Buffer.concat(parts)));
});
server.on('connection', () => {
  connections++;
});

type Command = { cmd: 'stats' | 'release' | 'reset' | 'close'; id: number };

process.on('message', (m: Command) => {
  const send = (r: Record<string, unknown>) => process.send?.({ id: m.id, ...r });
  switch (m.cmd) {
    case 'stats':
      send({ connections, requests, streams, held: held.size, cpu: process.cpuUsage(), mem: process.memoryUsage() });
      break;
    case 'reset':
      connections = 0;
      requests = 0;
      streams = 0;
      send({});
      break;
    case 'release': {
      const n = held.size;
      for (const res of [...held]) finish(res);
      send({ released: n });
      break;
    }
    case 'close':
      server.closeAllConnections();
      server.close(() => {
        send({});
        process.exit(0);
      });
      break;
  }
});
// The parent went away: do not linger.
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.send?.({ type: 'ready', port: typeof addr === 'object' && addr ? addr.port : 0 });
});
