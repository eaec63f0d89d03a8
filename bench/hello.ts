/**
 * Fastify's own floor on this machine: the same constant reply from a bare Node `http` server and from
 * a fastify route, no upstream behind either (BENCH_HELLO = node | fastify). The fastify route is
 * as lean as fastify gets with a JSON body: no logger, no hooks, the body parsed by fastify's default
 * parser, the reply a prebuilt string.
 *
 * IPC: bench/lib/child-ipc.ts.
 */
import http from 'node:http';
import Fastify from 'fastify';
import { serveBenchChild } from './lib/child-ipc.js';

const kind = process.env.BENCH_HELLO;
const REPLY = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'up-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 },
});
const REPLY_BYTES = Buffer.from(REPLY);
const HEADERS = { 'content-type': 'application/json', 'content-length': String(REPLY_BYTES.length) };

let server: http.Server;
let closeServer: () => Promise<void>;
if (kind === 'node') {
  server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => {
      res.writeHead(200, HEADERS);
      res.end(REPLY_BYTES);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closeServer = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
} else if (kind === 'fastify') {
  const app = Fastify({ logger: false });
  app.post('/v1/chat/completions', (_request, reply) => {
    void reply.header('content-type', 'application/json').send(REPLY);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  server = app.server;
  closeServer = () => app.close();
} else {
  throw new Error('BENCH_HELLO must be node or fastify');
}

serveBenchChild(server, closeServer);
