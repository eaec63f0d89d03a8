/**
 * Connection reuse: upstream TCP connections opened (counted by the upstream's `connection` events) per
 * 10,000 requests through the gateway at 50 client connections, against the deployment's `maxPoolSize`
 * (each adapter owns one keep-alive connection). Measured from a cold gateway, so the count includes
 * filling the pool, with the default `maxUses` (read from the config) and with `maxUses: 1000` for
 * comparison (each retirement is a new connection).
 */
import { parseConfig } from '../src/config/index.js';
import { gatewayConfig, startGateway, startUpstream, type GatewayChild, type Upstream } from './lib/children.js';
import { CHAT_BODY, STREAM_BODY, runLoad } from './lib/load.js';
import { log, table, type Section, type Target } from './lib/report.js';

export interface ConnectionsOptions {
  requests: number;
}

interface UpStats {
  connections: number;
  requests: number;
}

interface Row {
  label: string;
  maxPoolSize: number;
  maxUses: string;
  isDefault: boolean;
  kind: string;
  requests: number;
  upstreamRequests: number;
  connections: number;
  failed: number;
}

async function measure(up: Upstream, gw: GatewayChild, body: string, requests: number): Promise<{ connections: number; upstreamRequests: number; failed: number }> {
  const before = await up.call<UpStats>('stats');
  const r = await runLoad({ url: gw.chatUrl, connections: 50, amount: requests, body });
  await new Promise((res) => setTimeout(res, 100));
  const after = await up.call<UpStats>('stats');
  return { connections: after.connections - before.connections, upstreamRequests: after.requests - before.requests, failed: r.failed + (requests - r.ok) };
}

/** The `maxUses` a deployment gets when the config does not set one (read from the config schema, not assumed). */
function defaultMaxUses(upstream: Upstream): number {
  const cfg = parseConfig(JSON.stringify(gatewayConfig({ upstream })), { env: {} });
  return cfg.pool.maxUses;
}

export async function runConnections(o: ConnectionsOptions): Promise<Section> {
  const rows: Row[] = [];
  const maxPoolSize = 10;
  const n = o.requests.toLocaleString('en-US');
  let dflt = NaN;
  const variants: Array<{ label: (d: number) => string; isDefault: boolean; pool: Record<string, unknown> }> = [
    { label: (d) => `${d.toLocaleString('en-US')} (default)`, isDefault: true, pool: {} },
    { label: () => '1,000', isDefault: false, pool: { maxUses: 1_000 } },
  ];
  for (const v of variants) {
    const up = await startUpstream();
    try {
      if (Number.isNaN(dflt)) dflt = defaultMaxUses(up);
      const gw = await startGateway({ upstream: up, maxPoolSize, pool: v.pool });
      try {
        log(`connections: maxUses ${v.label(dflt)}`);
        for (const [kind, body] of [
          ['non-streaming', CHAT_BODY],
          ['streaming', STREAM_BODY],
        ] as const) {
          const m = await measure(up, gw, body, o.requests);
          rows.push({
            label: `${kind}, ${rows.length % 2 === 0 ? 'cold gateway' : 'after the run above'}`,
            maxPoolSize,
            maxUses: v.label(dflt),
            isDefault: v.isDefault,
            kind,
            requests: o.requests,
            ...m,
          });
        }
      } finally {
        await gw.stop();
      }
    } finally {
      await up.stop();
    }
  }
  const markdown = [
    `${n} requests per row at 50 client connections (autocannon), deployment \`maxPoolSize: ${maxPoolSize}\`; ` +
      'connections counted by the upstream. The first row of each pair starts from a cold gateway (pool at `minPoolSize`, no connection open yet), so it includes filling the pool.',
    '',
    table(
      ['requests', 'pool `maxUses`', 'requests reaching the upstream', `upstream connections opened during those ${n} requests`, 'failed'],
      rows.map((r) => [r.label, r.maxUses, r.upstreamRequests.toLocaleString('en-US'), `**${r.connections}**`, String(r.failed)]),
    ),
    '',
    `An adapter is retired after \`maxUses\` loans and its replacement opens a new connection: with \`maxUses: 1000\`, ${n} requests over ${maxPoolSize} adapters ` +
      `cost about ${Math.floor(o.requests / 1000)} connections on top of the pool's own (the second pair of rows).`,
  ].join('\n');
  const defaults = rows.filter((r) => r.isDefault);
  const targets: Target[] = defaults.map((r) => ({
    name: `upstream connections opened per ${n} requests, ${r.label} (default maxUses)`,
    value: String(r.connections),
    target: `≤ ${maxPoolSize} (maxPoolSize)`,
    met: r.connections <= maxPoolSize && r.failed === 0,
  }));
  const notes: string[] = [];
  const over = defaults.filter((r) => r.connections > maxPoolSize);
  if (over.length > 0) {
    notes.push(
      `**Connections (${over.map((r) => r.connections).join(', ')} per ${n} requests with the default \`maxUses: ${dflt}\`, target ≤ ${maxPoolSize}).** ` +
        `Each adapter retired after \`maxUses\` loans opens a new connection; ${n} requests over ${maxPoolSize} adapters stay within the pool's own connections only if \`maxUses\` ≥ ${Math.ceil(o.requests / maxPoolSize).toLocaleString('en-US')}.`,
    );
  }
  return { title: 'Connection reuse', markdown, targets, data: rows, notes };
}
