import type { PoolStats, PoolStatsEntry, PoolStatus } from '../pool/types.js';
import { statusOf } from '../pool/reports.js';
import type { DeploymentHealth } from '../routing/index.js';
import type { RedisLink } from './redis-link.js';

/** What one replica tells the fleet about itself: small, numeric, no secrets. */
export interface ReplicaSnapshot {
  id: string;
  started_at: number;
  config_version: number | null;
  mode: 'shared' | 'local';
  stats: PoolStats;
  circuits: Array<Pick<DeploymentHealth, 'key' | 'circuit' | 'inFlight'>>;
}

export interface ReplicaView extends ReplicaSnapshot {
  /** Milliseconds since the replica last published (from its entry's TTL: Redis's clock, not ours). */
  last_seen_ms: number;
}

export interface FleetOptions {
  link: RedisLink;
  snapshot: () => ReplicaSnapshot;
  /** Publish every this many ms. */
  intervalMs: number;
  /** A replica that stops publishing disappears after this (every key under the prefix has a TTL). */
  ttlMs: number;
  /** The number of live replicas changed (read after each publish). */
  onReplicaCount?: (n: number) => void;
}

/**
 * The fleet view: each replica writes its snapshot under `replica:<id>` with a TTL and adds its id to
 * the `replicas` set; readers fetch the set and every snapshot in one pipeline and drop ids whose
 * snapshot expired. Ages come from the TTL left, so replicas' clocks never have to agree.
 */
export class Fleet {
  private readonly opts: FleetOptions;
  private timer: NodeJS.Timeout | undefined;
  private count = 1;

  constructor(opts: FleetOptions) {
    this.opts = opts;
  }

  start(): void {
    void this.publish();
    this.timer = setInterval(() => void this.publish(), this.opts.intervalMs);
    this.timer.unref();
    this.opts.link.on('up', this.publishNow);
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.opts.link.off('up', this.publishNow);
    const { link } = this.opts;
    if (!link.up) return;
    // Leave at once rather than after the TTL: a replica that shuts down cleanly is gone.
    const id = this.opts.snapshot().id;
    await link.client.multi().del(link.key('replica', id)).srem(link.key('replicas'), id).exec().catch(() => {});
  }

  private readonly publishNow = (): void => void this.publish();

  async publish(): Promise<void> {
    const { link, ttlMs } = this.opts;
    if (!link.up) return;
    const snap = this.opts.snapshot();
    const set = link.key('replicas');
    try {
      await link.client
        .multi()
        .set(link.key('replica', snap.id), JSON.stringify(snap), 'PX', ttlMs)
        .sadd(set, snap.id)
        .pexpire(set, ttlMs * 3)
        .exec();
      const n = Math.max(1, (await this.replicas()).length);
      if (n !== this.count) {
        this.count = n;
        this.opts.onReplicaCount?.(n);
      }
    } catch (err) {
      // Redis away: the fleet view shows this replica again once it is back.
      link.failed(err);
    }
  }

  /** Live replicas at the last read (this one included); the last known count while Redis is away. */
  get liveReplicas(): number {
    return this.count;
  }

  /** Every live replica's snapshot; throws if Redis cannot be read. */
  async replicas(): Promise<ReplicaView[]> {
    const { link, ttlMs } = this.opts;
    const set = link.key('replicas');
    const ids = await link.client.smembers(set);
    if (ids.length === 0) return [];
    const pipe = link.client.pipeline();
    for (const id of ids) pipe.get(link.key('replica', id)).pttl(link.key('replica', id));
    const res = (await pipe.exec()) ?? [];
    const out: ReplicaView[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const text = res[2 * i]?.[1];
      const pttl = res[2 * i + 1]?.[1];
      if (typeof text !== 'string') {
        gone.push(id);
        return;
      }
      try {
        const snap = JSON.parse(text) as ReplicaSnapshot;
        out.push({ ...snap, last_seen_ms: typeof pttl === 'number' && pttl > 0 ? Math.max(0, ttlMs - pttl) : ttlMs });
      } catch {
        gone.push(id);
      }
    });
    if (gone.length > 0) await link.client.srem(set, ...gone).catch(() => {});
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }
}

/** Pool stats of the fleet: counts summed per `model:provider`, ratios recomputed from the sums (0..1). */
export function sumStats(snaps: readonly ReplicaSnapshot[]): PoolStats {
  const pools: Record<string, PoolStatsEntry> = {};
  for (const s of snaps) {
    for (const [key, e] of Object.entries(s.stats.pools)) {
      const acc = pools[key];
      if (acc === undefined) {
        pools[key] = { ...e };
        continue;
      }
      for (const f of COUNT_FIELDS) acc[f] += e[f];
    }
  }
  for (const e of Object.values(pools)) {
    e.utilization = e.total === 0 ? 0 : e.in_use / e.total;
    e.health = e.total === 0 ? 1 : (e.total - e.unhealthy) / e.total;
  }
  return { total_pools: Object.keys(pools).length, pools };
}

/** Pool status of the fleet, from the summed stats (0..1 ratios). */
export function sumStatus(snaps: readonly ReplicaSnapshot[]): Omit<PoolStatus, 'max_total'> {
  return statusOf(Object.values(sumStats(snaps).pools));
}

const COUNT_FIELDS = ['total', 'available', 'in_use', 'unhealthy', 'expired', 'max_pool_size', 'min_pool_size', 'checking', 'creating', 'closing', 'waiting'] as const;
