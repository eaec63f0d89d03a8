import type { PoolLogger } from '../pool/types.js';
import type { CircuitState, Router } from '../routing/index.js';
import type { RedisLink } from './redis-link.js';

/** What the circuit sharing needs of the router: its events, its circuits, and a way to hold one open. */
export type CircuitRouter = Pick<Router, 'on' | 'off' | 'deploymentHealth' | 'holdCircuit' | 'releaseCircuit'>;

export interface SharedCircuitsOptions {
  link: RedisLink;
  router: CircuitRouter;
  replicaId: string;
  /** The routing config's cooldown: a shared open lasts `2 × cooldown + 1 s` unless its leader closes or renews it. */
  cooldownMs: number;
  /** How often Redis is read for circuits opened elsewhere (pub/sub is faster but drops messages while disconnected). */
  pollIntervalMs: number;
  /** Deployment keys to poll (the configured ones). */
  keys: () => readonly string[];
  logger?: PoolLogger;
}

interface CircuitMessage {
  t: 'open' | 'close';
  key: string;
  by: string;
  ttl?: number;
}

/**
 * Open: take leadership of the deployment's shared circuit if nobody holds it (or renew our own);
 * answer the remaining TTL either way. Redis's TTL is the only clock: replicas turn it into a
 * local deadline, so their clocks never have to agree.
 */
const OPEN_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, tonumber(ARGV[2])}
end
return {0, redis.call('PTTL', KEYS[1])}`;

/** Close: only the leader (or anyone, once the leader's entry is gone) clears the shared circuit. */
const CLOSE_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`;

/**
 * Circuits shared by every replica through Redis. The replica whose breaker opens first becomes the
 * circuit's leader: it keeps its own breaker (cooldown, then ONE half-open probe) and tells the
 * others the outcome. The others hold the circuit open until the leader closes it, renews it, or its
 * entry expires (the leader died: then their own breakers take over). Messages travel by pub/sub;
 * a poll every `pollIntervalMs` catches what pub/sub dropped. With Redis away every replica keeps
 * its local breakers, and on rejoin re-publishes the circuits it has open.
 */
export class SharedCircuits {
  private readonly opts: SharedCircuitsOptions;
  private readonly channel: string;
  /** Circuits this replica holds open because another replica said so. */
  private readonly held = new Set<string>();
  private applying = false;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(opts: SharedCircuitsOptions) {
    this.opts = opts;
    this.channel = opts.link.key('events', 'circuits');
    opts.link.client.defineCommand('apCircuitOpen', { numberOfKeys: 1, lua: OPEN_SCRIPT });
    opts.link.client.defineCommand('apCircuitClose', { numberOfKeys: 1, lua: CLOSE_SCRIPT });
  }

  start(): void {
    const { link, router } = this.opts;
    router.on('circuit_open', this.onOpen);
    router.on('circuit_close', this.onClose);
    link.on('message', this.onMessage);
    link.on('up', this.onUp);
    void link.subscribe(this.channel);
    this.timer = setInterval(() => void this.poll(), this.opts.pollIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    const { link, router } = this.opts;
    router.off('circuit_open', this.onOpen);
    router.off('circuit_close', this.onClose);
    link.off('message', this.onMessage);
    link.off('up', this.onUp);
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Deployment keys held open on another replica's word (for status pages). */
  heldKeys(): string[] {
    return [...this.held];
  }

  private get ttlMs(): number {
    return 2 * this.opts.cooldownMs + 1000;
  }

  private redisKey(key: string): string {
    return this.opts.link.key('cb', `{${key}}`);
  }

  private readonly onOpen = ({ deployment }: { deployment: { key: string } }): void => {
    if (this.applying) return;
    this.held.delete(deployment.key);
    void this.publishOpen(deployment.key, this.ttlMs);
  };

  private readonly onClose = ({ deployment }: { deployment: { key: string } }): void => {
    if (this.applying) return;
    this.held.delete(deployment.key);
    void this.publishClose(deployment.key);
  };

  private async publishOpen(key: string, ttl: number): Promise<void> {
    const { link, replicaId } = this.opts;
    if (!link.up) return;
    try {
      const [leader, remaining] = (await (link.client as unknown as ScriptClient).apCircuitOpen(this.redisKey(key), replicaId, String(Math.max(1, Math.round(ttl))))) as [number, number];
      if (leader === 1) {
        await link.client.publish(this.channel, JSON.stringify({ t: 'open', key, by: replicaId, ttl: remaining } satisfies CircuitMessage));
      }
      // Not the leader: another replica opened it first and sends the one probe; wait for its word.
      else this.hold(key, remaining);
    } catch (err) {
      // Redis away or slow: the local breaker already protects this replica.
      link.failed(err);
    }
  }

  private async publishClose(key: string): Promise<void> {
    const { link, replicaId } = this.opts;
    if (!link.up) return;
    try {
      const cleared = (await (link.client as unknown as ScriptClient).apCircuitClose(this.redisKey(key), replicaId)) as number;
      if (cleared === 1) await link.client.publish(this.channel, JSON.stringify({ t: 'close', key, by: replicaId } satisfies CircuitMessage));
    } catch (err) {
      // Redis away: the entry expires by its TTL.
      link.failed(err);
    }
  }

  private readonly onMessage = (channel: string, text: string): void => {
    if (channel !== this.channel) return;
    let msg: CircuitMessage;
    try {
      msg = JSON.parse(text) as CircuitMessage;
    } catch {
      return;
    }
    if (msg.by === this.opts.replicaId || typeof msg.key !== 'string') return;
    if (msg.t === 'open' && typeof msg.ttl === 'number') this.hold(msg.key, msg.ttl);
    else if (msg.t === 'close') this.release(msg.key);
  };

  /** Redis is back: whatever this replica has open is shared again. */
  private readonly onUp = (): void => {
    for (const h of this.opts.router.deploymentHealth()) {
      if (h.circuit === 'open' && !this.held.has(h.key)) void this.publishOpen(h.key, Math.max(this.ttlMs, h.retryAfterMs ?? 0));
    }
  };

  private hold(key: string, ttl: number): void {
    this.applying = true;
    try {
      if (this.opts.router.holdCircuit(key, ttl)) this.held.add(key);
    } finally {
      this.applying = false;
    }
  }

  private release(key: string): void {
    if (!this.held.has(key)) return;
    this.held.delete(key);
    this.applying = true;
    try {
      this.opts.router.releaseCircuit(key);
    } finally {
      this.applying = false;
    }
  }

  /** One pipelined read of every deployment's shared circuit. */
  private async poll(): Promise<void> {
    const { link, replicaId } = this.opts;
    if (this.polling || !link.up) return;
    this.polling = true;
    try {
      const keys = this.opts.keys();
      if (keys.length === 0) return;
      const pipe = link.client.pipeline();
      for (const k of keys) pipe.get(this.redisKey(k)).pttl(this.redisKey(k));
      const res = (await pipe.exec()) ?? [];
      keys.forEach((k, i) => {
        const owner = res[2 * i]?.[1] as string | null | undefined;
        const pttl = res[2 * i + 1]?.[1] as number | undefined;
        if (owner && owner !== replicaId && typeof pttl === 'number' && pttl > 0) {
          if (!this.held.has(k)) this.hold(k, pttl);
        } else if (!owner && this.held.has(k)) {
          this.release(k);
        }
      });
    } catch (err) {
      // Redis away: local breakers only.
      link.failed(err);
    } finally {
      this.polling = false;
    }
  }
}

interface ScriptClient {
  apCircuitOpen(key: string, replicaId: string, ttlMs: string): Promise<unknown>;
  apCircuitClose(key: string, replicaId: string): Promise<unknown>;
}

export type { CircuitState };
