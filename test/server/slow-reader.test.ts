import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { call, chunkFrame, eventually, startGateway, Upstream, upstreamConfig, type RunningGateway } from './helpers.js';

/**
 * A client that asks for a stream and then reads nothing: the gateway waits for `drain` under
 * backpressure (no memory grows), but it waited forever, holding the deployment's adapter and the
 * upstream request for as long as the client kept its connection (#16, found by trying the attacks).
 */
describe('a streaming client that never reads holds its adapter forever', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    // A long answer, written as fast as the gateway takes it.
    up.onChat = (req) => {
      const res = req.res;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const frame = chunkFrame('x'.repeat(1000));
      let left = 50_000;
      const write = (): void => {
        while (left-- > 0) if (!res.write(frame)) return void res.once('drain', write);
        res.end(`${chunkFrame(null, 'stop')}data: [DONE]\n\n`);
      };
      write();
    };
    g = await startGateway(upstreamConfig(up.url, 'server: { writeTimeout: 500ms }'));
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  test('cut after server.writeTimeout without a write: the upstream request cancelled, the adapter back, the line says write_timeout', async () => {
    const { port } = new URL(g.url);
    const body = JSON.stringify({ model: 'up', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const socket = net.connect(Number(port), '127.0.0.1');
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nx-request-id: never-reads\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    socket.pause();
    try {
      await eventually(() => up.requests.length === 1, 'the stream started');
      await Promise.race([up.requests[0]!.aborted, sleep(10_000).then(() => assert.fail('the upstream request was never cancelled'))]);
      for (let i = 0; (await call(g.url, 'GET', '/v1/pool/status')).json.data.in_use_adapters !== 0; i++) {
        assert.ok(i < 100, 'the adapter never went back to the pool');
        await sleep(50);
      }
      await eventually(() => g.logs.some((l) => l.includes('"never-reads"') && l.includes('"write_timeout"')), 'the request line names write_timeout');
    } finally {
      socket.destroy();
    }
    // The gateway serves as before.
    assert.equal((await call(g.url, 'POST', '/v1/chat/completions', { body: { model: 'demo', messages: [{ role: 'user', content: 'hi' }] } })).status, 200);
  });
});
