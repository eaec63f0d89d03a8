/**
 * The cluster's cost (issue #13): the same gateway with a key limit and a deployment limit, once on
 * its own and once with `cluster.redis` (the machine's Redis, a prefix of its own), rounds interleaved
 * so drift on a shared machine hits both alike. Figures: req/s at 50 connections (ratio) and mean
 * latency at 1 connection (difference), each the median over rounds of the paired figure.
 */
import { randomBytes } from 'node:crypto';
import { API_KEY, startGateway, startUpstream, type GatewayChild, type Upstream } from './lib/children.js';
import { median, runLoad, type LoadResult } from './lib/load.js';
import { log, ms, ratio, rps, signedMs, table, type Section } from './lib/report.js';

export interface ClusterBenchOptions {
  rounds: number;
  seconds: number;
  redis?: string;
}

/** Limits far above what the bench reaches: every request pays for the checks, none is refused. */
const LIMITS = { rpm: 100_000_000, tpm: 1_000_000_000 };

function limited(upstream: Upstream, cluster: Record<string, unknown> | undefined): Promise<GatewayChild> {
  return startGateway({
    upstream,
    extra: {
      auth: { keys: [{ name: 'bench', key: API_KEY, ...LIMITS }] },
      models: { bench: { providers: [{ provider: 'up', model: 'up-model', pool: { maxPoolSize: 10 }, ...LIMITS }] } },
      ...(cluster === undefined ? {} : { cluster }),
    },
  });
}

export async function runCluster(o: ClusterBenchOptions): Promise<Section> {
  const redis = o.redis ?? process.env.BENCH_REDIS ?? 'redis://127.0.0.1:6379';
  const upstream = await startUpstream();
  const local = await limited(upstream, undefined);
  const shared = await limited(upstream, { redis, prefix: `adapterpool-bench-${randomBytes(4).toString('hex')}:` });
  const rounds: Array<{ local50: LoadResult; shared50: LoadResult; local1: LoadResult; shared1: LoadResult }> = [];
  try {
    // Warm both (connections, JIT, the limiter's scripts loaded into Redis).
    for (const g of [local, shared]) await runLoad({ url: g.chatUrl, connections: 10, durationS: 1 });
    for (let i = 0; i < o.rounds; i++) {
      log(`cluster: round ${i + 1}/${o.rounds}`);
      const local50 = await runLoad({ url: local.chatUrl, connections: 50, durationS: o.seconds });
      const shared50 = await runLoad({ url: shared.chatUrl, connections: 50, durationS: o.seconds });
      const shared1 = await runLoad({ url: shared.chatUrl, connections: 1, durationS: o.seconds });
      const local1 = await runLoad({ url: local.chatUrl, connections: 1, durationS: o.seconds });
      rounds.push({ local50, shared50, local1, shared1 });
    }
  } finally {
    await Promise.all([local.stop(), shared.stop(), upstream.stop()]);
  }
  const failed = rounds.reduce((n, r) => n + r.local50.failed + r.shared50.failed + r.local1.failed + r.shared1.failed, 0);
  const rpsRatio = median(rounds.map((r) => r.shared50.rps / r.local50.rps));
  const addedMean = median(rounds.map((r) => r.shared1.mean - r.local1.mean));
  const rows = rounds.map((r, i) => [
    String(i + 1),
    rps(r.local50.rps),
    rps(r.shared50.rps),
    ratio(r.shared50.rps / r.local50.rps),
    ms(r.local1.mean),
    ms(r.shared1.mean),
    signedMs(r.shared1.mean - r.local1.mean),
  ]);
  return {
    title: 'Cluster: the gateway with and without Redis (key and deployment limits on)',
    markdown:
      `Same gateway and config (a named key with rpm/tpm, a deployment with rpm/tpm, every other feature on), once alone and once with \`cluster.redis\` ` +
      `(the machine's Redis): limits counted in Redis, circuits shared, snapshots published. ${o.rounds} interleaved round(s) of ${o.seconds} s per figure; ${failed} failed request(s).\n\n` +
      table(['round', 'req/s 50 conn, alone', 'req/s 50 conn, cluster', 'ratio', 'mean 1 conn, alone', 'mean 1 conn, cluster', 'added'], rows),
    targets: [
      { name: 'cluster on: req/s at 50 connections vs the same gateway alone', value: `${ratio(rpsRatio)}×`, target: '≥ 0.9×', met: rpsRatio >= 0.9 && failed === 0 },
      { name: 'cluster on: mean added latency at 1 connection', value: signedMs(addedMean), target: '≤ +0.1 ms', met: addedMean <= 0.1 && failed === 0 },
    ],
    data: rounds,
  };
}
