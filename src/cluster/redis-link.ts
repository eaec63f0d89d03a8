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
 * Logs once per change of state (never per failed command), and once at start when Redis cannot be
 * reached then.
 *
 * A Redis that keeps the connection but stops answering (hung, paused, overloaded) is down too:
 * callers report their failed commands (`failed`); a command timeout sends one PING, and when that
 * times out as well the link goes down (requests stop paying the timeout) until a PING, sent every
 * `PROBE_INTERVAL_MS` while down, is answered again. The normal path pays nothing for this.
 */
export class RedisLink extends EventEmitter<{ up: []; down: []; message: [channel: string, message: string] }> {
  readonly client: Redis;
  readonly subscriber: Redis;
  readonly prefix: string;
  private _state: RedisLinkState = 'down';
  private closed = false;
  /** The state was logged at least once (a replica that starts without Redis says so). */
  private announced = false;
  /**
   * The client's last error, the reason logged with `cluster_redis_down`: a wrong password
   * (WRONGPASS / NOAUTH) reads differently from a network outage (ECONNREFUSED, ENOTFOUND).
   */
  private lastError: Error | undefined;
  /** The URL's database number (`/N`); 0 when it has none. */
  private readonly db: number;
  /**
   * Redis refused that database (beyond its `databases`): ioredis then goes on in db 0, which would
   * join another fleet's counters. The link stays down until Redis takes it.
   */
  private wrongDb = false;
  /** Redis was reachable at least once since start. */
  private reached = false;
  /** A PING is on its way (after a timeout, or while down). */
  private probing = false;
  private probeTimer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private readonly logger: PoolLogger | undefined;
  private readonly connectTimeoutMs: number;

  constructor(opts: RedisLinkOptions) {
    super();
    this.prefix = opts.prefix;
    this.logger = opts.logger;
    this.connectTimeoutMs = opts.connectTimeoutMs;
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
    this.db = Number(new URL(opts.url).pathname.slice(1) || 0);
    this.client.on('ready', () => this.onReady());
    this.client.on('close', () => this.setState('down'));
    // State changes are logged by setState, with the last error as the reason; per-error lines would flood.
    this.client.on('error', (err: Error) => {
      // A refused password (WRONGPASS) is followed by the NOAUTH of the commands that come after it:
      // the first says what is wrong, the second would read as "no password given".
      if (err.message.startsWith('NOAUTH') && this.lastError?.message.startsWith('WRONGPASS') === true) return;
      this.lastError = err;
    });
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
    // A first attempt that fails says so at once; one that hangs says so after the connect timeout.
    this.client.connect().catch((err: unknown) => {
      if (err instanceof Error) this.lastError = err;
      this.setState('down');
    });
    this.subscriber.connect().catch(() => {});
    this.startTimer = setTimeout(() => {
      this.startTimer = undefined;
      if (!this.up) this.setState('down');
    }, this.connectTimeoutMs + 100);
    this.startTimer.unref();
    this.probeWhileDown();
  }

  /**
   * A command failed (callers report it from their error paths; nothing is paid on success). A
   * timeout means Redis may hang with the connection open, which no connection event reveals: one
   * PING decides, and if it times out too the link is down until Redis answers again.
   */
  failed(err: unknown): void {
    if (this._state !== 'up' || this.probing || !isTimeout(err)) return;
    this.probing = true;
    this.client.ping().then(
      () => {
        this.probing = false;
      },
      (e: unknown) => {
        this.probing = false;
        if (isTimeout(e) && this.client.status === 'ready') {
          this.lastError = new Error('Redis stopped answering: a command and a PING timed out (cluster.commandTimeout)');
          this.setState('down');
        }
      },
    );
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
    if (this.probeTimer !== undefined) clearInterval(this.probeTimer);
    if (this.startTimer !== undefined) clearTimeout(this.startTimer);
    this.probeTimer = this.startTimer = undefined;
    this.client.disconnect();
    this.subscriber.disconnect();
    this.removeAllListeners();
  }

  /**
   * While down with the connection open (Redis stopped answering), a PING every `PROBE_INTERVAL_MS`
   * brings the link back up once one is answered. A closed connection comes back through ioredis's
   * reconnection ('ready') instead.
   */
  private probeWhileDown(): void {
    if (this.probeTimer !== undefined || this.closed || this._state === 'up') return;
    this.probeTimer = setInterval(() => {
      if (this._state === 'up' || this.closed) {
        clearInterval(this.probeTimer);
        this.probeTimer = undefined;
        return;
      }
      if (this.probing || this.client.status !== 'ready') return;
      this.probing = true;
      this.client.ping().then(
        () => {
          this.probing = false;
          if (this.client.status === 'ready' && !this.wrongDb) this.setState('up');
        },
        () => {
          this.probing = false;
        },
      );
    }, PROBE_INTERVAL_MS);
    this.probeTimer.unref();
  }

  /** Connected: up, once the URL's database is the one in use (ioredis ignores a refused SELECT). */
  private onReady(): void {
    if (this.db === 0) {
      this.setState('up');
      return;
    }
    this.client.select(this.db).then(
      () => {
        this.wrongDb = false;
        this.setState('up');
      },
      (err: unknown) => {
        if (err instanceof Error) this.lastError = err;
        this.wrongDb = true;
        this.setState('down');
      },
    );
  }

  private setState(to: RedisLinkState): void {
    if (this.closed || (this._state === to && this.announced)) return;
    const changed = this._state !== to;
    this._state = to;
    this.announced = true;
    if (to === 'up') {
      this.reached = true;
      // The next outage gives its own reason, not this one's.
      this.lastError = undefined;
      this.logger?.info?.({ event: 'cluster_redis_up' }, 'cluster: Redis is reachable, sharing state with the other replicas');
    } else if (this.reached) {
      this.logger?.warn?.({ event: 'cluster_redis_down', ...this.reason() }, 'cluster: Redis is unreachable, serving on local state until it is back');
    } else {
      this.logger?.warn?.(
        { event: 'cluster_redis_down', since_start: true, ...this.reason() },
        'cluster: Redis is unreachable since start, serving on local state until it is reached (limits: this replica counts itself alone until it sees the fleet)',
      );
    }
    if (to === 'down') this.probeWhileDown();
    if (changed) this.emit(to);
  }

  /** ioredis's messages name the address or the server's refusal, never the URL's password. */
  private reason(): { reason?: string } {
    return this.lastError === undefined ? {} : { reason: this.lastError.message };
  }
}

/** How often a link that is down with its connection open tries a PING. */
const PROBE_INTERVAL_MS = 500;

/** ioredis rejects a command that outlives `commandTimeout` with this message. */
function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === 'Command timed out';
}
