import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProviderError } from '../../src/providers/errors.js';
import type { StreamResult } from '../../src/routing/types.js';
import { assertNothingInUse, chat, harness, type Harness } from './harness.js';

async function openStream(h: Harness, signal?: AbortSignal): Promise<StreamResult> {
  const r = await h.router.executeStrategy(chat(true), h.deployments, 'failover', undefined, signal ? { signal } : undefined);
  assert.equal(r.kind, 'stream');
  return r as StreamResult;
}

async function collect(r: StreamResult): Promise<string> {
  let text = '';
  for await (const c of r.stream) text += c.choices[0]?.delta.content ?? '';
  return text;
}

describe('router streams against failing loopback upstreams', () => {
  it('a healthy stream: first chunk peeked then replayed, adapter released at the end', async () => {
    const h = await harness();
    try {
      const r = await openStream(h);
      assert.equal(r.deployment.provider, 'a');
      assert.equal(r.attempts, 1);
      assert.equal(h.pool.keyState('up-model', 'a')!.inUse, 1, 'leased while the stream is open');
      assert.equal(await collect(r), 'a-0 a-1 a-2 ');
      assertNothingInUse(h.pool, h.deployments);
    } finally {
      await h.finish();
    }
  });

  it('sse() gives SSE frames ending in [DONE]', async () => {
    const h = await harness();
    try {
      const r = await openStream(h);
      const frames: string[] = [];
      for await (const f of r.stream.sse()) frames.push(typeof f === 'string' ? f : Buffer.from(f).toString());
      // Upstream frames pass through as they came (one write may hold several events).
      const text = frames.join('');
      assert.ok(text.endsWith('data: [DONE]\n\n'));
      assert.ok(frames.every((f) => f.startsWith('data: ') && f.endsWith('\n\n')));
      const first = JSON.parse(text.slice(6, text.indexOf('\n'))) as { object: string; choices: Array<{ delta: { role?: string } }> };
      assert.equal(first.object, 'chat.completion.chunk');
      assert.equal(first.choices[0]!.delta.role, 'assistant');
      assert.equal(text.split('\n\n').length - 1, 6); // role, 3 contents, finish, [DONE]
    } finally {
      await h.finish();
    }
  });

  it('200 then the connection dies before the first chunk: still retried (the first chunk is peeked)', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = 'cut_before_first';
      const r = await openStream(h);
      assert.equal(r.deployment.provider, 'b');
      assert.equal(r.attempts, 3);
      assert.equal(await collect(r), 'b-0 b-1 b-2 ');
    } finally {
      await h.finish();
    }
  });

  it('malformed first SSE event: retried and failed over', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = 'malformed';
      const r = await openStream(h);
      assert.equal(r.deployment.provider, 'b');
      assert.equal(await collect(r), 'b-0 b-1 b-2 ');
    } finally {
      await h.finish();
    }
  });

  it('500 / 429 before the stream starts: retried and failed over like a completion', async () => {
    const h = await harness();
    try {
      h.up.a!.script = ['500', '429'];
      h.up.a!.retryAfterSeconds = 600;
      const r = await openStream(h);
      assert.equal(r.deployment.provider, 'b');
      assert.equal(r.attempts, 3);
      await collect(r);
    } finally {
      await h.finish();
    }
  });

  it('a slow first byte beyond the timeout: failed over', async () => {
    const h = await harness({ routing: { maxAttemptsPerDeployment: 1 } });
    try {
      h.up.a!.fault = 'slow';
      h.up.a!.slowMs = 1_000;
      const r = await openStream(h);
      assert.equal(r.deployment.provider, 'b');
      assert.equal(r.attempts, 2);
      await collect(r);
    } finally {
      await h.finish();
    }
  });

  it('a stream cut midway after bytes reached the client: no retry, no failover, the iterator throws a ProviderError', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = 'cut';
      const r = await openStream(h);
      assert.equal(r.deployment.provider, 'a');
      const seen: string[] = [];
      await assert.rejects(
        (async () => {
          for await (const c of r.stream) seen.push(String(c.choices[0]?.delta.content ?? ''));
        })(),
        (e: unknown) => e instanceof ProviderError && e.action.retry,
      );
      assert.deepEqual(seen, ['', 'partial ']);
      assert.equal(h.up.a!.chatHits, 1);
      assert.equal(h.up.b!.chatHits, 0);
      assert.equal(h.router.deploymentHealth().find((d) => d.key.endsWith(':a'))!.consecutiveFailures, 1, 'counted against a');
      assertNothingInUse(h.pool, h.deployments);
    } finally {
      await h.finish();
    }
  });

  it('#16 item 8: a malformed chunk after the first stream event is relayed verbatim and the stream counted a success', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = 'malformed_later';
      for (let i = 1; i <= 3; i++) {
        const r = await openStream(h);
        assert.equal(r.deployment.provider, 'a');
        // The server's path: upstream frames relayed as they come.
        let relayed = '';
        await assert.rejects(
          (async () => {
            for await (const f of r.stream.sse()) relayed += typeof f === 'string' ? f : Buffer.from(f).toString();
          })(),
          (e: unknown) => e instanceof ProviderError && e.errorClass === 'bad_response',
        );
        assert.ok(relayed.includes('first ') && !relayed.includes('not json'), `the malformed bytes never reach the caller: ${relayed}`);
        const a = h.router.deploymentHealth().find((d) => d.key.endsWith(':a'))!;
        // Three consecutive failures open the harness's circuits.
        assert.equal(a.consecutiveFailures, i, 'counted against the deployment');
        if (i === 3) assert.equal(a.circuit, 'open');
      }
      assert.equal(h.up.b!.chatHits, 0);
      assertNothingInUse(h.pool, h.deployments);
    } finally {
      await h.finish();
    }
  });

  it('cancel(): aborts the upstream and releases the adapter exactly once', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = 'ok';
      const r = await openStream(h);
      r.stream.cancel();
      r.stream.cancel();
      await sleep(10);
      assertNothingInUse(h.pool, h.deployments);
      assert.equal(h.router.deploymentHealth()[0]!.inFlight, 0);
      assert.equal(h.router.deploymentHealth()[0]!.consecutiveFailures, 0, 'a cancel is not a failure');
    } finally {
      await h.finish();
    }
  });

  it('a consumer that breaks out of the loop: upstream aborted, adapter released', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = 'cut'; // sends 2 chunks then would die: we leave after the first
      const r = await openStream(h);
      for await (const _c of r.stream) break;
      assertNothingInUse(h.pool, h.deployments);
      assert.equal(h.router.deploymentHealth()[0]!.consecutiveFailures, 0);
    } finally {
      await h.finish();
    }
  });

  it('the caller aborting mid-stream: iterator rejects as aborted, adapter released, not counted as a failure', async () => {
    const h = await harness();
    try {
      h.up.a!.fault = 'cut';
      const ac = new AbortController();
      const r = await openStream(h, ac.signal);
      ac.abort();
      await assert.rejects(collect(r), (e: unknown) => e instanceof ProviderError && e.errorClass === 'aborted');
      assertNothingInUse(h.pool, h.deployments);
      assert.equal(h.router.deploymentHealth()[0]!.consecutiveFailures, 0);
    } finally {
      await h.finish();
    }
  });
});
