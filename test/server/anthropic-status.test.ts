import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { completion, startGateway, Upstream, type RunningGateway } from './helpers.js';

/**
 * Bug: on `/v1/messages` the client got Anthropic's status (an upstream 500 as 500 `api_error`, a
 * 503 as 529 `overloaded_error`) while the request's log line, `adapterpool_requests_total` and the
 * usage ledger recorded OpenAI's (502, 503): an operator could not find a client's reported status
 * in the logs. They record what the client got.
 */
describe('/v1/messages errors are recorded with the status the client got', () => {
  let up: Upstream;
  let g: RunningGateway;
  let client: Anthropic;
  before(async () => {
    up = await Upstream.start();
    // The budget (300 ms) matters only to the timeout test: every other answer is at once.
    g = await startGateway(`routing: { maxAttempts: 1, requestTimeout: 300ms, circuitConsecutiveFailures: 100 }
providers:
  loop: { type: openai-compatible, baseUrl: "${up.url}", apiKey: k }
models:
  claude-via-openai: { providers: [{ provider: loop, model: up-model }] }
`);
    client = new Anthropic({ baseURL: g.url, apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  const failWith = (status: number) => {
    up.onChat = (r) => {
      r.res.writeHead(status, { 'content-type': 'application/json' });
      r.res.end(JSON.stringify({ error: { message: `upstream says ${status}`, type: 'server_error', code: null } }));
    };
  };

  test('regression: an upstream 500 reached the client as 500 and was logged as 502; an upstream 503 reached it as 529 and was logged as 503', async () => {
    const params = { model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user' as const, content: 'x' }] };
    for (const [upstream, client_status] of [
      [500, 500],
      [503, 529],
    ] as const) {
      failWith(upstream);
      let requestId: string | null | undefined;
      await assert.rejects(client.messages.create(params), (err: unknown) => {
        assert.ok(err instanceof Anthropic.APIError);
        assert.equal(err.status, client_status);
        requestId = err.requestID;
        return true;
      });
      const line = g.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.reqId === requestId && l.msg !== undefined && String(l.msg).startsWith('messages'));
      assert.ok(line, `a log line for ${requestId}`);
      assert.equal(line.status, client_status, `upstream ${upstream}: the log line`);
      await g.gw.ledger!.flush();
      const rows = await g.gw.ledger!.store.rows(0, Date.now() + 1000);
      assert.equal(rows.find((r) => r.requestId === requestId)?.status, client_status, `upstream ${upstream}: the ledger row`);
    }
    const metrics = await (await fetch(`${g.url}/metrics`)).text();
    assert.match(metrics, /adapterpool_requests_total\{[^}]*status="529"[^}]*\} 1/);
    assert.match(metrics, /adapterpool_requests_total\{[^}]*status="500"[^}]*\} 1/);
  });

  /**
   * Regression: an upstream timeout and a spent `routing.requestTimeout` reached the client as 500
   * `api_error`, "something broke", where Anthropic's own table has 504 `timeout_error` for a request
   * that took too long. The status and type now say which.
   */
  test('regression: a timeout was 500 api_error; it is 504 timeout_error, streamed or not, and recorded as 504', async () => {
    up.onChat = (r) => {
      const t = setTimeout(() => completion(r.res, 'late'), 2000);
      r.res.on('close', () => clearTimeout(t));
    };
    const params = { model: 'claude-via-openai', max_tokens: 8, messages: [{ role: 'user' as const, content: 'x' }] };
    const isTimeout = (err: unknown) => {
      assert.ok(err instanceof Anthropic.APIError, String(err));
      assert.equal(err.status, 504);
      assert.equal((err.error as { error: { type: string } }).error.type, 'timeout_error');
      return true;
    };
    let requestId: string | null | undefined;
    await assert.rejects(client.messages.create(params), (err: unknown) => {
      requestId = (err as { requestID?: string | null }).requestID;
      return isTimeout(err);
    });
    const line = g.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.reqId === requestId && String(l.msg ?? '').startsWith('messages'));
    assert.equal(line?.status, 504, 'the log line');
    await assert.rejects(client.messages.stream(params).finalMessage(), isTimeout);
  });
});
