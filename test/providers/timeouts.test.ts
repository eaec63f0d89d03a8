import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createProviderAdapter, DEFAULT_TIMEOUTS, ProviderError } from '../../src/providers/index.js';
import { chunk, collect, sseHead, startUpstream } from './helpers.js';

const req = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('timeouts', () => {
  it('has named defaults: connect 10 s, first byte 300 s, idle 60 s', () => {
    assert.deepEqual(DEFAULT_TIMEOUTS, { connectMs: 10_000, firstByteMs: 300_000, idleMs: 60_000 });
  });

  it('connect: a loopback peer that accepts TCP but never completes the TLS handshake', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    const adapter = createProviderAdapter({ name: 'slow', type: 'openai', baseUrl: `https://127.0.0.1:${port}/v1`, apiKey: 'k', timeouts: { connectMs: 150 } }, 'm');
    try {
      await assert.rejects(adapter.chatCompletion(req), (e: ProviderError) => {
        assert.equal(e.errorClass, 'timeout');
        assert.equal(e.status, 504);
        assert.match(e.message, /connect/);
        assert.equal(e.action.retry, true);
        return true;
      });
    } finally {
      await adapter.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('connection refused is a network error (502)', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((r) => server.close(() => r()));
    const adapter = createProviderAdapter({ name: 'gone', type: 'openai-compatible', baseUrl: `http://127.0.0.1:${port}` }, 'm');
    try {
      await assert.rejects(adapter.chatCompletion(req), (e: ProviderError) => e.errorClass === 'network' && e.status === 502 && e.action.failover);
    } finally {
      await adapter.close();
    }
  });

  it('first byte: no response headers within firstByteMs', async () => {
    const up = await startUpstream(() => {
      /* thinks forever */
    });
    const adapter = createProviderAdapter({ name: 'think', type: 'openai-compatible', baseUrl: up.url, timeouts: { firstByteMs: 150 } }, 'm');
    try {
      await assert.rejects(adapter.chatCompletion(req), (e: ProviderError) => e.errorClass === 'timeout' && e.status === 504 && /first-byte/.test(e.message));
      await assert.rejects(adapter.chatCompletionStream(req), (e: ProviderError) => e.errorClass === 'timeout');
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('idle: a stream that stops sending chunks for idleMs', async () => {
    const up = await startUpstream((_r, res) => {
      sseHead(res);
      res.write(`data: ${chunk({ content: 'a' })}\n\n`);
    });
    const adapter = createProviderAdapter({ name: 'stall', type: 'openai-compatible', baseUrl: up.url, timeouts: { idleMs: 150 } }, 'm');
    try {
      const stream = await adapter.chatCompletionStream(req);
      const got: unknown[] = [];
      await assert.rejects(
        (async () => {
          for await (const c of stream) got.push(c);
        })(),
        (e: ProviderError) => e.errorClass === 'timeout' && e.status === 504 && /idle/.test(e.message),
      );
      assert.equal(got.length, 1);
      await up.closed;
      assert.equal(adapter.counters().failures, 1);
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('idle: a non-streaming body that stalls halfway', async () => {
    const up = await startUpstream((_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":"x","choices":[');
    });
    const adapter = createProviderAdapter({ name: 'stall', type: 'openai-compatible', baseUrl: up.url, timeouts: { idleMs: 150 } }, 'm');
    try {
      await assert.rejects(adapter.chatCompletion(req), (e: ProviderError) => e.errorClass === 'timeout');
    } finally {
      await adapter.close();
      await up.close();
    }
  });

  it('a slow but steady stream is not cut by the idle timeout', async () => {
    const up = await startUpstream(async (_r, res) => {
      sseHead(res);
      for (let i = 0; i < 4; i++) {
        res.write(`data: ${chunk({ content: String(i) })}\n\n`);
        await new Promise((r) => setTimeout(r, 60));
      }
      res.end('data: [DONE]\n\n');
    });
    const adapter = createProviderAdapter({ name: 'steady', type: 'openai-compatible', baseUrl: up.url, timeouts: { idleMs: 200 } }, 'm');
    try {
      const chunks = await collect(await adapter.chatCompletionStream(req));
      assert.deepEqual(chunks.map((c) => c.choices[0]!.delta.content), ['0', '1', '2', '3']);
    } finally {
      await adapter.close();
      await up.close();
    }
  });
});
