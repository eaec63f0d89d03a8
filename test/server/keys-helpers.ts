import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/index.js';
import { PROVIDER_TYPES } from '../../src/providers/registry.js';
import { buildGateway, createLogger, type GatewayOptions } from '../../src/server/index.js';
import type { RunningGateway } from './helpers.js';

/**
 * A gateway with injectable limiter / usage store (short windows for tests), logs captured, and
 * its SQLite ledger in a fresh temp dir unless the config names a path.
 */
export async function startKeyedGateway(yaml: string, options: GatewayOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<RunningGateway & { dir: string }> {
  const config = parseConfig(yaml, { source: 'test.yaml', env: options.env ?? {}, providerTypes: PROVIDER_TYPES });
  const dir = mkdtempSync(join(tmpdir(), 'ap-keys-'));
  if (config.usage.path === './adapterpool-usage.db') config.usage.path = join(dir, 'usage.db');
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const { env: _env, ...gwOptions } = options;
  const gw = await buildGateway(config, { logger: createLogger('info', sink), ...gwOptions });
  const url = await gw.listen({ port: 0 });
  return {
    gw,
    url,
    logs,
    dir,
    close: async () => {
      await gw.close(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse the Prometheus text format. */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]!] = lm[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export function metricValue(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}
