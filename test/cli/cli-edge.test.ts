import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONFIG_YAML } from '../../src/config/index.js';
import { MAIN, run, type Run } from './helpers.js';

/** The repository root (dist/test/cli -> ../../..). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Serving {
  child: ChildProcess;
  url: string;
  output: () => string;
  exit: Promise<Run>;
}

/** Start a command (default `serve`) and resolve once it prints `listening on URL`. */
function serve(args: string[], options: { env?: NodeJS.ProcessEnv; command?: string[]; cwd?: string; detached?: boolean } = {}): Promise<Serving> {
  return new Promise((resolve, reject) => {
    const command = options.command ?? [process.execPath, MAIN, 'serve'];
    const child = spawn(command[0]!, [...command.slice(1), ...args], {
      env: { PATH: process.env.PATH, ...options.env },
      // Default: the temp dir, so the default usage ledger (./adapterpool-usage.db) stays out of the checkout.
      cwd: options.cwd ?? tmpdir(),
      detached: options.detached === true,
    });
    let stdout = '';
    let stderr = '';
    let resolved = false;
    const exit = new Promise<Run>((res) => child.on('close', (code, signal) => res({ code, signal, stdout, stderr })));
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout!.on('data', (b: Buffer) => {
      stdout += b.toString();
      const m = /listening on (http:\/\/[0-9.]+:\d+)/.exec(stdout);
      if (m && !resolved) {
        resolved = true;
        resolve({ child, url: m[1]!.replace('0.0.0.0', '127.0.0.1'), output: () => stdout, exit });
      }
    });
    void exit.then((r) => !resolved && reject(new Error(`serve exited early (${r.code}): ${r.stderr}${r.stdout}`)));
  });
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'adapterpool-cli-edge-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('serve: start-up failures (issue 15)', () => {
  test('provider errors under serve come out as one fatal JSON line with a stack: readable FILE:line lines on stderr, exit 1', async () => {
    const file = join(dir, 'provider-errors.yaml');
    await writeFile(
      file,
      `providers:
  oa: { type: openai }
  az: { type: azure-openai, baseUrl: "https://x.openai.azure.com", apiKey: k }
models:
  a: { providers: [{ provider: oa, model: gpt-4o }, { provider: az, model: gpt-4o }] }
`,
    );
    const r = await run(['serve', '--config', file, '--port', '0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${escape(file)}:2:\\d+: providers\\.oa: .*needs "apiKey"`));
    assert.match(r.stderr, new RegExp(`${escape(file)}:3:\\d+: providers\\.az: .*needs "deployment"`));
    assert.ok(!r.stderr.includes('\\n') && !/^\s+at /m.test(r.stderr), `escaped newlines or a stack: ${r.stderr}`);
    assert.ok(!r.stdout.includes('"level":60'), 'a fatal JSON line');
    assert.ok(!r.stdout.includes('listening on'));
  });

  test('check-config reports provider errors as "config:": the same FILE:line lines', async () => {
    const file = join(dir, 'provider-errors-check.yaml');
    await writeFile(file, `providers:\n  oa: { type: openai }\nmodels:\n  a: { providers: [{ provider: oa, model: gpt-4o }] }\n`);
    const r = await run(['check-config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${escape(file)}:2:\\d+: providers\\.oa: `));
    assert.ok(!/^\s*config:/m.test(r.stderr), r.stderr);
  });

  test('a port already in use ends with a stack dump: one line that says so, exit 1', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = await run(['serve', '--port', String(port)]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is already in use`));
      assert.ok(!/^\s+at /m.test(r.stderr + r.stdout), 'a stack trace');
    } finally {
      blocker.close();
    }
  });

  test('a port already in use printed its reason before the start-up log lines: the reason comes last', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const out = join(dir, 'port-in-use.log');
    const fd = openSync(out, 'w');
    try {
      // stdout and stderr into one file, as a terminal or `2>&1` shows them.
      const child = spawn(process.execPath, [MAIN, 'serve', '--port', String(port)], { env: { PATH: process.env.PATH }, cwd: tmpdir(), stdio: ['ignore', fd, fd] });
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 1);
      const lines = (await readFile(out, 'utf8')).trim().split('\n');
      assert.ok(lines.length > 1, 'the start-up lines are there too');
      assert.match(lines.at(-1)!, /^adapterpool: cannot listen on .*the port is already in use/);
    } finally {
      closeSync(fd);
      blocker.close();
    }
  });

  test('host 0.0.0.0 with no API keys is an open relay, silently: a warning at start', async () => {
    const open = join(dir, 'open.yaml');
    await writeFile(open, `server: { host: 0.0.0.0 }\nproviders:\n  m: { type: mock }\nmodels:\n  a: { providers: [{ provider: m }] }\n`);
    const s = await serve(['--config', open, '--port', '0']);
    s.child.kill('SIGTERM');
    const r = await s.exit;
    const warning = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.event === 'open_relay');
    assert.ok(warning, r.stdout);
    assert.equal(warning.level, 40);
    assert.match(warning.msg, /0\.0\.0\.0.*no API keys/);

    // With a key, or on loopback, no warning.
    const keyed = join(dir, 'keyed.yaml');
    await writeFile(keyed, `server: { host: 0.0.0.0 }\nauth: { apiKeys: [k1] }\nproviders:\n  m: { type: mock }\nmodels:\n  a: { providers: [{ provider: m }] }\n`);
    const k = await serve(['--config', keyed, '--port', '0']);
    k.child.kill('SIGTERM');
    assert.ok(!(await k.exit).stdout.includes('open_relay'));
    const local = await serve(['--port', '0']);
    local.child.kill('SIGTERM');
    assert.ok(!(await local.exit).stdout.includes('open_relay'));
  });
});

describe('serve: signals (issue 16 item 10)', () => {
  test('a second SIGTERM exits 143 with no log line: it logs and exits 1', async () => {
    const file = join(dir, 'slow.yaml');
    // A stream of 200 chunks 50 ms apart keeps the first shutdown waiting.
    await writeFile(file, `providers:\n  m: { type: mock, mock: { chunks: 200, chunkDelay: 50ms } }\nmodels:\n  slow: { providers: [{ provider: m }] }\n`);
    const s = await serve(['--config', file, '--port', '0']);
    const res = await fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'slow', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    s.child.kill('SIGTERM');
    while (!s.output().includes('shutting down')) await new Promise((r) => setTimeout(r, 10));
    s.child.kill('SIGTERM');
    const r = await s.exit;
    await reader.cancel().catch(() => {});
    assert.equal(r.signal, null);
    assert.equal(r.code, 1);
    const line = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.event === 'shutdown_forced');
    assert.ok(line, r.stdout);
    assert.equal(line.signal, 'SIGTERM');
  });
});

describe('serve: SIGHUP during shutdown', () => {
  test('a SIGHUP while draining killed the process (Node\'s default once the reload listener was removed) and cut every request in flight: it is ignored, the drain finishes, exit 0', async () => {
    const file = join(dir, 'hup-drain.yaml');
    // 10 chunks 60 ms apart: the stream is still running when both signals arrive.
    await writeFile(file, `providers:\n  m: { type: mock, mock: { chunks: 10, chunkDelay: 60ms } }\nmodels:\n  slow: { providers: [{ provider: m }] }\n`);
    const s = await serve(['--config', file, '--port', '0']);
    const res = await fetch(`${s.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'slow', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    const body = res.text();
    s.child.kill('SIGTERM');
    while (!s.output().includes('shutting down')) await new Promise((r) => setTimeout(r, 10));
    s.child.kill('SIGHUP');
    const text = await body;
    const r = await s.exit;
    assert.equal(r.signal, null, 'not killed by the signal');
    assert.equal(r.code, 0);
    assert.ok(text.endsWith('data: [DONE]\n\n'), 'the stream in flight finished');
    const events = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).event);
    assert.ok(events.includes('config_reload_ignored'), r.stdout);
    assert.ok(events.includes('shutdown_done'), r.stdout);
  });
});

describe('logs (issue 15)', () => {
  test('JSON lines only, numeric levels, epoch times: --log-format pretty prints readable lines', async () => {
    const s = await serve(['--port', '0', '--log-format', 'pretty']);
    s.child.kill('SIGTERM');
    const r = await s.exit;
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.ok(lines.length > 3);
    for (const l of lines) assert.ok(!l.trimStart().startsWith('{"level"'), `a JSON line: ${l}`);
    assert.ok(lines.some((l) => /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO.*listening on http/.test(l)), r.stdout);
    assert.ok(lines.some((l) => l.includes('🔄 启动适配器池')), 'the seed lines keep their text and emoji');
  });

  test('logging.format: pretty in the config; JSON stays the default when piped', async () => {
    const file = join(dir, 'pretty.yaml');
    await writeFile(file, `logging: { format: pretty }\nproviders:\n  m: { type: mock }\nmodels:\n  a: { providers: [{ provider: m }] }\n`);
    const p = await serve(['--config', file, '--port', '0']);
    p.child.kill('SIGTERM');
    assert.match((await p.exit).stdout, /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO/m);
    const j = await serve(['--port', '0']);
    j.child.kill('SIGTERM');
    for (const l of (await j.exit).stdout.split('\n').filter(Boolean)) assert.equal(typeof JSON.parse(l).level, 'number');
    assert.equal((await run(['serve', '--log-format', 'xml'])).code, 2);
  });
});

describe('print-config and examples (issue 15)', () => {
  test('no way to see the built-in default: print-config prints it, and it passes check-config', async () => {
    const r = await run(['print-config']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, DEFAULT_CONFIG_YAML);
    const file = join(dir, 'printed.yaml');
    await writeFile(file, r.stdout);
    assert.equal((await run(['check-config', file])).code, 0);
    const resolved = await run(['print-config', '--resolved']);
    assert.equal(resolved.code, 0);
    assert.match(resolved.stdout, /maxJsonDepth: 128/);
    assert.match(resolved.stdout, /demo-failover/);
    assert.match((await run(['--help'])).stdout, /adapterpool print-config/);
  });

  test('no example configs ship: every examples/*.yaml passes check-config', async () => {
    const files = (await readdir(join(ROOT, 'examples'))).filter((f) => f.endsWith('.yaml')).sort();
    for (const expected of ['local-models.yaml', 'volcengine-deepseek-failover.yaml', 'azure-openai.yaml', 'anthropic.yaml', 'keys-with-limits.yaml']) {
      assert.ok(files.includes(expected), `examples/${expected} missing`);
    }
    // Every variable an example asks for, set to a placeholder (the examples use no real keys).
    const env: NodeJS.ProcessEnv = {};
    for (const f of files) {
      const text = await readFile(join(ROOT, 'examples', f), 'utf8');
      for (const m of text.matchAll(/\$\{([A-Z0-9_]+)\}/g)) {
        const name = m[1]!;
        env[name] = /ENDPOINT|_URL/.test(name) ? 'https://example.invalid' : name.endsWith('SHA256') ? `sha256:${'0'.repeat(64)}` : `placeholder-${name}`;
      }
    }
    for (const f of files) {
      const r = await run(['check-config', join(ROOT, 'examples', f)], env);
      assert.equal(r.code, 0, `examples/${f}: ${r.stderr}`);
      assert.ok(!r.stdout.includes('placeholder-'), `examples/${f}: a secret printed`);
    }
  });
});

describe('npm start (issue 15)', () => {
  test('npm start compiles TypeScript on every start: start runs what was built, the build runs once at install (prepare)', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.ok(!/build|tsc/.test(pkg.scripts.start!), `start still builds: ${pkg.scripts.start}`);
    assert.match(pkg.scripts.prepare ?? '', /npm run build|tsc/);
    // And it serves from dist: `npm start` in the repository, no compiler involved.
    // Its config keeps the usage ledger in the temp dir, out of the checkout.
    const config = join(dir, 'npm-start.yaml');
    await writeFile(config, `usage: { path: "${join(dir, 'npm-start-usage.db')}" }\nproviders: { mock: { type: mock } }\nmodels: { m: { providers: [{ provider: mock }] } }\n`);
    const s = await serve(['--', '--port', '0'], { command: ['npm', 'start'], cwd: ROOT, env: { HOME: process.env.HOME ?? tmpdir(), ADAPTERPOOL_CONFIG: config }, detached: true });
    try {
      const health = await fetch(`${s.url}/health`);
      assert.equal(health.status, 200);
    } finally {
      process.kill(-s.child.pid!, 'SIGTERM');
    }
    const r = await s.exit;
    assert.ok(!r.stdout.includes('tsc -p'), 'npm start ran the compiler');
  });
});
