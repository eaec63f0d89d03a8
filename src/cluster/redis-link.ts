import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import type { PoolLogger } from '../pool/types.js';

/** How the gateway talks to Redis. Every field has a default in the config schema (`cluster.*`). */
export interface RedisLinkOptions {
  url: string;
  /** Every key and channel lives under it. */
  prefix: string;
  /** A command that takes longer fails, and the caller falls back to local state (ms). */
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  logger?: PoolLogger;
}

export type RedisLinkState = 'up' | 'down';

/**
 * One Redis connection for the request path and one for pub/sub, configured so that Redis being
 * slow or away costs a request at most `commandTimeoutMs` and never a queue: no offline queue, no
 * resending of unanswered commands (a resent INCR double-counts), at most one try per command.
 * Auto-pipelining batches the counters that one event-loop tick issues into one round trip.
 * Logs once per change of state (never per failed command).
 */
export class RedisLink extends EventEmitter<{ up: []; down: []; message: [channel: string, message: string] }> {
  readonly client: Redis;
  readonly subscriber: Redis;
  readonly prefix: string;
  private _state: RedisLinkState = 'down';
  private closed = false;
  private readonly logger: PoolLogger | undefined;

  constructor(opts: RedisLinkOptions) {
    super();
    this.prefix = opts.prefix;
    this.logger = opts.logger;
    const base: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      autoResendUnfulfilledCommands: false,
      enableAutoPipelining: true,
      connectTimeout: opts.connectTimeoutMs,
      commandTimeout: opts.commandTimeoutMs,
      // Keep trying in the background, at most every 2 s: the gateway serves on local state meanwhile.
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      reconnectOnError: () => false,
    };
    this.client = new Redis(opts.url, { ...base, connectionName: 'adapterpool' });
    // Pub/sub waits for messages, so no command timeout; it resubscribes by itself after a reconnect.
    this.subscriber = new Redis(opts.url, { ...base, commandTimeout: undefined, enableOfflineQueue: true, connectionName: 'adapterpool-sub' });
    this.client.on('ready', () => this.setState('up'));
    this.client.on('close', () => this.setState('down'));
    this.client.on('error', () => {}); // state changes are logged by setState; per-error lines would flood
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (channel: string, message: string) => this.emit('message', channel, message));
  }

  get state(): RedisLinkState {
    return this._state;
  }

  get up(): boolean {
    return this._state === 'up';
  }

  /** Start connecting; resolves at once (the gateway starts without Redis and joins when it is there). */
  connect(): void {
    this.client.connect().catch(() => {});
    this.subscriber.connect().catch(() => {});
  }

  key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  async subscribe(channel: string): Promise<void> {
    await this.subscriber.subscribe(channel).catch(() => {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.disconnect();
    this.subscriber.disconnect();
    this.removeAllListeners();
  }

  private setState(to: RedisLinkState): void {
    if (this._state === to || this.closed) return;
    this._state = to;
    if (to === 'up') this.logger?.info?.({ event: 'cluster_redis_up' }, 'cluster: Redis is reachable, sharing state with the other replicas');
    else this.logger?.warn?.({ event: 'cluster_redis_down' }, 'cluster: Redis is unreachable, serving on local state until it is back');
    this.emit(to);
  }
}
