import { hostname } from 'node:os';
import { Gauge, type Registry } from 'prom-client';
import type { PoolLogger } from '../pool/types.js';
import { SharedCircuits, type CircuitRouter } from './circuits.js';
import { Fleet, sumStats, sumStatus, type ReplicaSnapshot, type ReplicaView } from './fleet.js';
import { RedisLink } from './redis-link.js';
import { SharedLimiter } from './shared-limiter.js';

export interface ClusterConfig {
  redis?: string | undefined;
  prefix: string;
  replicaId: string;
  commandTimeout: number;
  connectTimeout: number;
  snapshotInterval: number;
  snapshotTtl: number;
  circuitPollInterval: number;
}

export interface ClusterOptions {
  config: ClusterConfig;
  router: CircuitRouter;
  cooldownMs: number;
  /** The configured deployment keys (`model:provider`). */
  deploymentKeys: () => readonly string[];
  /** This replica's snapshot, minus what the cluster fills in itself (id, mode). */
  snapshot: () => Omit<ReplicaSnapshot, 'id' | 'mode'>;
  logger?: PoolLogger;
}

export type ClusterMode = 'shared' | 'local';

/**
 * Several gateway replicas acting as one through Redis: shared circuits, a fleet view, (through
 * the limiter) shared limits. Redis being away never fails a request: every part falls back to
 * this replica's local state and rejoins by itself.
 */
export class Cluster {
  readonly replicaId: string;
  readonly link: RedisLink;
  private readonly circuits: SharedCircuits;
  private readonly fleet: Fleet;
  private readonly limiters: SharedLimiter[] = [];

  constructor(opts: ClusterOptions) {
    const c = opts.config;
    if (c.redis === undefined) throw new Error('cluster.redis is not set');
    this.replicaId = c.replicaId !== '' ? c.replicaId : `${hostname()}:${process.pid}`;
    const logger = opts.logger;
    this.link = new RedisLink({ url: c.redis, prefix: c.prefix, commandTimeoutMs: c.commandTimeout, connectTimeoutMs: c.connectTimeout, ...(logger ? { logger } : {}) });
    this.circuits = new SharedCircuits({
      link: this.link,
      router: opts.router,
      replicaId: this.replicaId,
      cooldownMs: opts.cooldownMs,
      pollIntervalMs: c.circuitPollInterval,
      keys: opts.deploymentKeys,
      ...(logger ? { logger } : {}),
    });
    this.fleet = new Fleet({
      link: this.link,
      intervalMs: c.snapshotInterval,
      ttlMs: c.snapshotTtl,
      snapshot: () => ({ ...opts.snapshot(), id: this.replicaId, mode: this.mode }),
      onReplicaCount: () => {
        for (const l of this.limiters) l.refreshReplicas();
      },
    });
  }

  get mode(): ClusterMode {
    return this.link.up ? 'shared' : 'local';
  }

  start(): void {
    this.link.connect();
    this.circuits.start();
    this.fleet.start();
  }

  /** Key and deployment limits held across the fleet (counters in Redis, local shares while it is away). */
  createLimiter(windowMs?: number): SharedLimiter {
    const l = new SharedLimiter({ link: this.link, liveReplicas: () => this.fleet.liveReplicas, ...(windowMs === undefined ? {} : { windowMs }) });
    this.limiters.push(l);
    return l;
  }

  /** Live replicas; throws when Redis cannot be read. */
  async replicas(): Promise<ReplicaView[]> {
    try {
      return await this.fleet.replicas();
    } catch (err) {
      this.link.failed(err);
      throw err;
    }
  }

  /** Fleet stats and status (ratios 0..1) with the replicas that make them. */
  async view(): Promise<{ replicas: ReplicaView[]; stats: ReturnType<typeof sumStats>; status: ReturnType<typeof sumStatus> }> {
    const replicas = await this.replicas();
    return { replicas, stats: sumStats(replicas), status: sumStatus(replicas) };
  }

  /** `adapterpool_cluster_redis_up`: 1 while Redis is reachable (shared mode), 0 on local state. */
  registerMetrics(registry: Registry): void {
    const link = this.link;
    new Gauge({
      name: 'adapterpool_cluster_redis_up',
      help: '1 while this replica reaches Redis and shares circuits, limits and its snapshot; 0 while it runs on local state',
      registers: [registry],
      collect() {
        this.set(link.up ? 1 : 0);
      },
    });
  }

  /**
   * The pool's scheduled health check runs on one replica at a time: whoever takes the lock for this
   * round (it expires before the next one). Redis away: every replica checks for itself.
   */
  async healthCheckGate(intervalMs: number): Promise<boolean> {
    if (!this.link.up) return true;
    try {
      const ttl = Math.max(1, Math.floor(intervalMs * 0.9));
      return (await this.link.client.set(this.link.key('lock', 'health-check'), this.replicaId, 'PX', ttl, 'NX')) === 'OK';
    } catch (err) {
      this.link.failed(err);
      return true;
    }
  }

  heldCircuits(): string[] {
    return this.circuits.heldKeys();
  }

  async close(): Promise<void> {
    this.circuits.stop();
    await this.fleet.stop();
    await this.link.close();
  }
}
