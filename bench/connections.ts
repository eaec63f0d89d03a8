/**
 * Connection reuse: upstream TCP connections opened (counted by the upstream's `connection` events) per
 * 10,000 requests through the gateway at 50 client connections, against the deployment's `maxPoolSize`
 * (each adapter owns one keep-alive connection). Measured from a cold gateway, so the count includes
 * filling the pool, and with the default `maxUses` (adapters retired after 1,000 loans, each retirement
 * a new connection) and with `maxUses` out of the way.
 */
import { startGateway, startUpstream, type GatewayChild, type Upstream } from './lib/children.js';
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

export async function runConnections(o: ConnectionsOptions): Promise<Section> {
  const rows: Row[] = [];
  const maxPoolSize = 10;
  const variants: Array<{ maxUses: string; pool: Record<string, unknown> }> = [
    { maxUses: '1000 (default)', pool: {} },
    { maxUses: '1,000,000', pool: { maxUses: 1_000_000 } },
  ];
  for (const v of variants) {
    const up = await startUpstream();
    try {
      const gw = await startGateway({ upstream: up, maxPoolSize, pool: v.pool });
      try {
        log(`connections: maxUses ${v.maxUses}`);
        for (const [kind, body] of [
          ['non-streaming', CHAT_BODY],
          ['streaming', STREAM_BODY],
        ] as const) {
          const m = await measure(up, gw, body, o.requests);
          rows.push({ label: `${kind}, ${rows.length % 2 === 0 ? 'cold gateway' : 'after the run above'}`, maxPoolSize, maxUses: v.maxUses, kind, requests: o.requests, ...m });
        }
      } finally {
        await gw.stop();
      }
    } finally {
      await up.stop();
    }
  }
  const markdown = [
    `${o.requests.toLocaleString('en-US')} requests per row at 50 client connections (autocannon), deployment \`maxPoolSize: ${maxPoolSize}\`; ` +
      'connections counted by the upstream. The first row of each pair starts from a cold gateway (pool at `minPoolSize`, no connection open yet).',
    '',
    table(
      ['requests', 'pool `maxUses`', 'requests reaching the upstream', `upstream connections opened during those ${o.requests.toLocaleString('en-US')} requests`, 'failed'],
      rows.map((r) => [r.label, r.maxUses, r.upstreamRequests.toLocaleString('en-US'), `**${r.connections}**`, String(r.failed)]),
    ),
    '',
    `With the default \`maxUses: 1000\` every adapter is retired after 1,000 loans and its replacement opens a new connection, ` +
      `so ${o.requests.toLocaleString('en-US')} requests over ${maxPoolSize} adapters cost about ${Math.floor(o.requests / 1000)} connections on top of the pool's own by design (the limit exists to recycle connections).`,
  ].join('\n');
  const targets: Target[] = rows
    .filter((r) => r.maxUses.includes('default'))
    .map((r) => ({
      name: `upstream connections opened per ${o.requests.toLocaleString('en-US')} requests, ${r.label} (default maxUses 1000)`,
      value: String(r.connections),
      target: `≤ ${maxPoolSize} (maxPoolSize)`,
      met: r.connections <= maxPoolSize && r.failed === 0,
    }));
  const unlimited = rows.filter((r) => !r.maxUses.includes('default'));
  const worst = Math.max(...unlimited.map((r) => r.connections));
  targets.push({
    name: `upstream connections opened per ${o.requests.toLocaleString('en-US')} requests, maxUses out of the way (worse row)`,
    value: String(worst),
    target: `≤ ${maxPoolSize} (maxPoolSize)`,
    met: worst <= maxPoolSize && unlimited.every((r) => r.failed === 0),
  });
  const notes: string[] = [];
  const over = rows.filter((r) => r.maxUses.includes('default') && r.connections > maxPoolSize);
  if (over.length > 0 && worst <= maxPoolSize) {
    notes.push(
      `**Connections with the default \`maxUses: 1000\` (${over.map((r) => r.connections).join(', ')} per ${o.requests.toLocaleString('en-US')} requests, target ≤ ${maxPoolSize}).** ` +
        `Reuse itself holds: with \`maxUses\` out of the way the same load opens ${worst} connections (one per adapter). The extra ones are adapters retired after 1,000 loans, as configured; ` +
        'For the target to hold with the defaults, the default `maxUses` would have to be at least the requests one adapter serves in the window (here 10,000 / 10 adapters = 1,000, so e.g. 10,000).',
    );
  }
  return { title: 'Connection reuse', markdown, targets, data: rows, notes };
}
