import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { OpenRequests } from '../../src/server/open-requests.js';
import { RequestLifecycle } from '../../src/server/request-lifecycle.js';
import { startGateway, type RunningGateway } from './helpers.js';

/** Inputs a black-box audit found answered 500 internal_error (found by a type fuzzer and both SDKs). */
describe('bad input that was a 500', () => {
  let g: RunningGateway;
  before(async () => {
    g = await startGateway(`
providers: { m: { type: mock } }
models: { chat: { providers: [{ provider: m }] } }
`);
  });
  after(() => g.close());

  const post = async (path: string, body: unknown): Promise<{ status: number; json: any }> => {
    const res = await fetch(`${g.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: await res.json() };
  };
  const inFlight = async (): Promise<number> => Number(/^adapterpool_requests_in_flight (\d+)$/m.exec(await (await fetch(`${g.url}/metrics`)).text())![1]);

  test('regression: a tool_result block with content null (which the schema takes) crashed the token estimate: 500, and the request stayed counted in flight for good (a shutdown then waited pool.closeTimeout for it)', async () => {
    const messages = [
      { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: null }] },
    ];
    const r = await post('/v1/messages', { model: 'chat', max_tokens: 5, messages });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const s = await fetch(`${g.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', max_tokens: 5, stream: true, messages }) });
    assert.equal(s.status, 200);
    assert.match(await s.text(), /event: message_stop/);
    const c = await post('/v1/messages/count_tokens', { model: 'chat', messages });
    assert.equal(c.status, 200, JSON.stringify(c.json));
    assert.equal(typeof c.json.input_tokens, 'number');
    assert.equal(await inFlight(), 0);
  });

  test('regression: a metadata.user_id that is not a string was a 500 on every provider but Anthropic; it is a 400 naming the field', async () => {
    for (const user_id of [5, true, {}]) {
      const r = await post('/v1/messages', { model: 'chat', max_tokens: 5, metadata: { user_id }, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.json.type, 'error');
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.match(r.json.error.message, /user_id/);
    }
    assert.equal(await inFlight(), 0);
  });

  test('regression: the mock provider (the built-in config\'s) threw on content it passes through unchecked: a number, a null part, an odd tool_choice', async () => {
    const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }];
    for (const body of [
      { messages: [{ role: 'user', content: 5 }] },
      { messages: [{ role: 'user', content: [null] }] },
      { messages: [{ role: 'user', content: 'hi' }], tools, tool_choice: {} },
      { messages: [{ role: 'user', content: 'hi' }], tools, tool_choice: { type: 'function' } },
    ]) {
      const r = await post('/v1/chat/completions', { model: 'chat', ...body });
      assert.notEqual(r.status, 500, `${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
    }
  });

  test('an error no route caught still ends its request: recorded once (500 internal_error), and no longer in flight', () => {
    const open = new OpenRequests();
    const logged: Array<Record<string, unknown>> = [];
    const log = { info: (o: object) => logged.push(o as Record<string, unknown>), warn: (o: object) => logged.push(o as Record<string, unknown>), error: (o: object) => logged.push(o as Record<string, unknown>) };
    const metrics = { requestDone: () => undefined };
    const request = { id: 'r1', server: { shutdownCut: false }, lineWritten: false, lifecycle: null } as unknown as FastifyRequest;
    const life = new RequestLifecycle({ open, telemetry: { metrics, logPrompts: false, log } }, request, { what: 'messages', model: 'chat', stream: false });
    assert.equal(open.size, 1);
    assert.equal(request.lifecycle, life, 'the error handlers find it on the request');
    life.endedBy(new TypeError('a bug of ours'));
    life.endedBy(new TypeError('again'));
    assert.equal(open.size, 0);
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.status, 500);
    assert.equal(logged[0]!.error, 'internal_error');
  });
});
