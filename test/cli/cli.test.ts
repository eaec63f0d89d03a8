import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAIN, run, type Run } from './helpers.js';


/** Start `serve`, resolve once it listens, with its URL and every log line so far. */
function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcessWithoutNullStreams; url: string; lines: string[]; exit: Promise<Run> }> {
  return new Promise((resolve, reject) => {
    // In the temp dir: the default usage ledger (./adapterpool-usage.db) stays out of the checkout.
    const child = spawn(process.execPath, [MAIN, 'serve', ...args], { env: { PATH: process.env.PATH, ...env }, cwd: tmpdir() });
    const lines: string[] = [];
    let stdout = '';
    let stderr = '';
    let resolved = false;
    const exit = new Promise<Run>((res) => child.on('close', (code, signal) => res({ code, signal, stdout, stderr })));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      lines.splice(0, lines.length, ...stdout.split('\n').filter(Boolean));
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout);
      if (m && !resolved) {
        resolved = true;
        resolve({ child, url: m[1]!, lines, exit });
      }
    });
    void exit.then((r) => !resolved && reject(new Error(`serve exited early (${r.code}): ${r.stderr}${r.stdout}`)));
  });
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'adapterpool-cli-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('adapterpool check-config', () => {
  test('a valid file: exit 0, the resolved config printed with secrets masked', async () => {
    const file = join(dir, 'ok.yaml');
    await writeFile(
      file,
      `auth: { apiKeys: ["\${GW_KEY}"], adminKey: admin-secret }
pool: { acquireTimeout: 5s }
providers:
  local: { type: openai-compatible, baseUrl: "http://127.0.0.1:9/v1", apiKey: "\${UP_KEY}" }
models:
  chat: { providers: [{ provider: local, model: some-model }] }
`,
    );
    const r = await run(['check-config', file], { GW_KEY: 'gateway-secret', UP_KEY: 'upstream-secret' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid/);
    assert.match(r.stdout, /acquireTimeout: 5000/);
    assert.match(r.stdout, /maxPoolSize: 10/);
    assert.match(r.stdout, /\*\*\*\*\*\*\*\*/);
    for (const secret of ['gateway-secret', 'upstream-secret', 'admin-secret']) assert.ok(!r.stdout.includes(secret), `${secret} printed`);
  });

  test('an invalid file: exit 1, each error with its field and line', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, `providers:\n  m: { type: mock, colour: red }\n  x: { type: warp-drive }\nmodels:\n  chat: { providers: [{ provider: m }] }\n`);
    const r = await run(['check-config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:\\d+: providers\\.m\\.colour: unknown field "colour"`));
    assert.equal(r.stdout, '');
  });

  test('a provider type the registry does not know: exit 1 naming the line', async () => {
    const file = join(dir, 'type.yaml');
    await writeFile(file, `providers:\n  m: { type: mock }\n  x: { type: warp-drive }\nmodels:\n  chat: { providers: [{ provider: m }] }\n`);
    const r = await run(['check-config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /:3:\d+: providers\.x\.type: unknown provider type "warp-drive"/);
  });

  test('a missing environment variable: exit 1 naming it', async () => {
    const file = join(dir, 'env.yaml');
    await writeFile(file, `auth: { adminKey: "\${NO_SUCH_VAR_HERE}" }\nproviders:\n  m: { type: mock }\nmodels:\n  chat: { providers: [{ provider: m }] }\n`);
    const r = await run(['check-config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /:1:\d+: auth\.adminKey: environment variable NO_SUCH_VAR_HERE is not set/);
  });

  test('a missing file: exit 1', async () => {
    const r = await run(['check-config', join(dir, 'absent.yaml')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ENOENT/);
  });
});

describe('adapterpool command line', () => {
  test('--help: exit 0 with usage', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /adapterpool serve \[--config FILE\] \[--port N\]/);
    assert.match(r.stdout, /adapterpool check-config FILE/);
  });

  test('serve --help answered exit 2 "Unknown option \'--help\'": the usage, exit 0, for every command', async () => {
    for (const args of [['serve', '--help'], ['check-config', '--help'], ['print-config', '-h']]) {
      const r = await run(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /adapterpool serve \[--config FILE\]/);
      assert.equal(r.stderr, '');
    }
  });

  test('bad usage: exit 2', async () => {
    assert.equal((await run([])).code, 2);
    assert.equal((await run(['frobnicate'])).code, 2);
    assert.equal((await run(['serve', '--port', 'eighty'])).code, 2);
    assert.equal((await run(['serve', '--verbose'])).code, 2);
    assert.equal((await run(['check-config'])).code, 2);
  });
});

describe('adapterpool serve', () => {
  test('built-in default: says so first, serves a streamed completion, SIGTERM mid-stream finishes it and exits 0', async () => {
    const { child, url, lines, exit } = await serve(['--port', '0']);
    assert.match(JSON.parse(lines[0]!).msg, /built-in default config/);

    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'demo-chat', stream: true, messages: [{ role: 'user', content: 'hello' }] }),
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    child.kill('SIGTERM');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    assert.ok(text.endsWith('data: [DONE]\n\n'), text);
    const content = text
      .split('\n\n')
      .filter((f) => f.startsWith('data: {'))
      .map((f) => (JSON.parse(f.slice(6)) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '')
      .join('');
    assert.match(content, /hello/);

    const r = await exit;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /shut down cleanly/);
  });

  test('--config FILE and SIGINT', async () => {
    const file = join(dir, 'serve.yaml');
    await writeFile(file, `providers:\n  m: { type: mock }\nmodels:\n  only-model: { providers: [{ provider: m }] }\n`);
    const { child, url, lines, exit } = await serve(['--config', file, '--port', '0']);
    assert.match(JSON.parse(lines[0]!).msg, /using config file/);
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    assert.deepEqual(models.data.map((m) => m.id), ['only-model']);
    child.kill('SIGINT');
    assert.equal((await exit).code, 0);
  });

  test('an invalid config: exit 1 before listening', async () => {
    const file = join(dir, 'serve-bad.yaml');
    await writeFile(file, 'providers: {}\nmodels: {}\n');
    const r = await run(['serve', '--config', file, '--port', '0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /models: at least one model is required/);
  });
});
