import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chunkFrame, startGateway, Upstream, type RunningGateway, type UpstreamRequest } from './helpers.js';

/**
 * Secrets an upstream echoes back must not reach the client or the log, whatever the shape of the
 * echo (found by a black-box audit that grepped every output for any 8-character piece of a secret).
 */
const KEY = 'sk-PROVSECRET-1234567890abcdef';
const HEADER = 'HDRSECRET-987654';
const URL_KEY = 'URLSECRET-5555';
const ANT_KEY = 'sk-ant-ANTHSECRET-0011223344';
const CLIENT_KEY = 'ck-CLIENTSECRET-aaaa1111';
const SECRETS = [KEY, HEADER, URL_KEY, ANT_KEY, CLIENT_KEY];

/** Every piece of 8 characters or more of a secret that `text` holds. */
function leaks(text: string): string[] {
  const found: string[] = [];
  for (const s of SECRETS) {
    for (let i = 0; i + 8 <= s.length; i++) {
      const piece = s.slice(i, i + 8);
      if (text.toLowerCase().includes(piece.toLowerCase())) found.push(piece);
    }
  }
  return found;
}

describe('secrets an upstream echoes back', () => {
  let up: Upstream;
  let g: RunningGateway;
  before(async () => {
    up = await Upstream.start();
    g = await startGateway(`
routing: { maxAttempts: 1, maxAttemptsPerDeployment: 1 }
providers:
  loop: { type: openai-compatible, baseUrl: "${up.url}?api-key=${URL_KEY}", apiKey: "${KEY}", headers: { x-api-token: "${HEADER}" } }
  ant: { type: anthropic, baseUrl: "${up.url}", apiKey: "${ANT_KEY}" }
models:
  up: { providers: [{ provider: loop, model: up-model }] }
  claude: { providers: [{ provider: ant, model: claude-x }] }
`);
  });
  after(async () => {
    await g.close();
    await up.close();
  });

  const post = async (path: string, body: unknown): Promise<{ status: number; text: string }> => {
    const res = await fetch(`${g.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  };
  const chat = (stream: boolean) => post('/v1/chat/completions', { model: 'up', stream, messages: [{ role: 'user', content: 'hi' }] });
  /** An SSE upstream that sends one good chunk, then `rest`. */
  const streamThen = (rest: string) => (r: UpstreamRequest) => {
    r.res.writeHead(200, { 'content-type': 'text/event-stream' });
    r.res.write(chunkFrame('hello'));
    setTimeout(() => r.res.end(rest), 5);
  };

  test('regression: a stream error chunk whose "error" is not its first key (OpenRouter\'s shape, beside "choices") reached the client unscrubbed', async () => {
    const frame = { id: 'x', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: 'error' }], error: { message: `Incorrect API key provided: ${KEY} (${URL_KEY})`, type: KEY } };
    up.onChat = streamThen(`data: ${JSON.stringify(frame)}\n\n`);
    const r = await chat(true);
    assert.equal(r.status, 200);
    assert.deepEqual(leaks(r.text), [], r.text);
    assert.match(r.text, /"error":\{[^\n]*\n\ndata: \[DONE\]\n\n$/, 'it ends with the gateway\'s own error event');
    assert.deepEqual(leaks(g.logs.join('')), []);
  });

  test('regression: a text line that is no SSE field (a plain-text error, an HTML page) was passed on mid-stream as it came', async () => {
    up.onChat = streamThen(`Error: Incorrect API key provided: ${KEY} ${HEADER}\n\n<html><body>${URL_KEY}</body></html>\n\n${chunkFrame(null, 'stop')}data: [DONE]\n\n`);
    const r = await chat(true);
    assert.deepEqual(leaks(r.text), [], r.text);
    assert.match(r.text, /"content":"hello"/);
    assert.match(r.text, /data: \[DONE\]\n\n$/);
  });

  test('regression: the same on /v1/messages passed through to an anthropic deployment', async () => {
    up.onChat = (r) => {
      r.res.writeHead(200, { 'content-type': 'text/event-stream' });
      const ev = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
      r.res.write(ev('message_start', { message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [], usage: { input_tokens: 1, output_tokens: 0 } } }));
      r.res.end(
        `<html>invalid x-api-key ${ANT_KEY}</html>\n\n` +
          ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }) +
          ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'hi' } }) +
          ev('content_block_stop', { index: 0 }) +
          ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 1 } }) +
          ev('message_stop', {}),
      );
    };
    const r = await post('/v1/messages', { model: 'claude', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.status, 200);
    assert.deepEqual(leaks(r.text), [], r.text);
    assert.match(r.text, /event: message_stop/);
  });

  test('regression: an error body was cut to 500 characters before it was scrubbed, so a secret across the cut kept up to 21 of its characters', async () => {
    for (const pad of [475, 480, 486]) {
      up.onChat = (r) => {
        r.res.writeHead(400, { 'content-type': 'text/plain' });
        r.res.end(`${'x'.repeat(pad)}${KEY} ${HEADER}`);
      };
      const r = await chat(false);
      assert.equal(r.status, 400);
      assert.deepEqual(leaks(r.text), [], r.text);
    }
    assert.deepEqual(leaks(g.logs.join('')), []);
  });

  test('regression: partial echoes of a header value or a query-string key (head or tail, as OpenAI echoes keys) were never scrubbed', async () => {
    up.onChat = (r) => {
      r.res.writeHead(401, { 'content-type': 'application/json' });
      r.res.end(JSON.stringify({ error: { message: `Invalid token ${HEADER.slice(0, 12)}**** or key ${URL_KEY.slice(0, 12)}****, ${KEY.toLowerCase()}`, type: 'invalid_request_error' } }));
    };
    const r = await chat(false);
    assert.equal(r.status, 502);
    assert.deepEqual(leaks(r.text), [], r.text);
    const deployments = await (await fetch(`${g.url}/v1/pool/deployments`)).text();
    assert.deepEqual(leaks(deployments), [], 'last_failure');
    assert.deepEqual(leaks(g.logs.join('')), []);
  });
  test('regression: a client key sent in the query string was written in full to the debug "request done" line', async () => {
    const before = g.logs.length;
    const res = await fetch(`${g.url}/v1/models?api_key=${CLIENT_KEY}`);
    await res.text();
    const lines = g.logs.slice(before).join('');
    assert.match(lines, /request done/);
    assert.deepEqual(leaks(lines), [], lines);
  });
});
