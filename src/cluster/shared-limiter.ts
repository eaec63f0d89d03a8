import { RateLimiterMemory } from 'rate-limiter-flexible';
import { DEFAULT_WINDOW_MS, FlexibleLimiter, MemoryConcurrency, type ConcurrencyStore } from '../routing/limits/index.js';
import type { Admission, LimitStatus, LimitWindow, Limiter, RateLimits, Reservation } from '../routing/limits/index.js';
import type { RedisLink } from './redis-link.js';

export interface SharedLimiterOptions {
  link: RedisLink;
  /** Live replicas (this one included), from the fleet view; at least 1. */
  liveReplicas: () => number;
  /** Window length (production: a minute). */
  windowMs?: number;
  /**
   * Points a replica borrows at a time, as a fraction of the limit's share per replica (`limit ÷
   * replicas`). Smaller: fewer points idle in one replica's lease; larger: fewer round trips.
   */
  leaseFraction?: number;
}

/**
 * Take up to `want` points of a window counter, never past `limit`, and nothing unless at least
 * `least` are there (points this replica cannot use would sit idle in its lease while another
 * replica could use them). The window is the key's TTL, set by the first grant (Redis's clock:
 * replicas' clocks never meet). Answers {granted, used, ttl}.
 */
const BORROW_SCRIPT = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
local grant = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - used)
if grant < tonumber(ARGV[4]) then grant = 0 end
if grant > 0 then
  used = redis.call('INCRBY', KEYS[1], grant)
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    ttl = tonumber(ARGV[3])
  end
end
if ttl < 0 then ttl = 0 end
return {grant, used, ttl}`;

/**
 * Give `n` points back to a window counter, only to the window they were borrowed from: a key whose
 * TTL is longer than the borrower's window has left (`ARGV[2]` ms) is a newer window. Answers the
 * points given back.
 */
const RETURN_SCRIPT = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 or ttl > tonumber(ARGV[2]) then return 0 end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local back = math.min(tonumber(ARGV[1]), used)
if back > 0 then redis.call('DECRBY', KEYS[1], back) end
return back`;

/** Points this replica borrowed from one shared window counter (a subject's rpm or tpm). */
interface Lease {
  /** The limit the points were borrowed under (a reload may change it). */
  limit: number;
  /** Borrowed and not yet used (negative: used beyond what was borrowed, owed at the next borrow). */
  left: number;
  /** The fleet's count at the last borrow (our unused points included). */
  used: number;
  /** The last borrow got nothing: the window's points are all taken (until it ends). */
  drained: boolean;
  /** When the window ends, on this process's clock (from the key's TTL at the last borrow). */
  until: number;
  /** Points wanted by admits waiting on this lease (a borrow asks for all of them at once). */
  demand: number;
  /** The smallest of those admits' needs: a borrow that cannot cover it takes nothing. */
  least: number;
  /** A borrow on its way: concurrent admits wait for it instead of sending their own. */
  pending: Promise<void> | undefined;
}

/**
 * Key and deployment limits held across the fleet with no Redis round trip on most requests. Each
 * replica borrows points from a shared window counter in Redis in small leases (one Lua script,
 * EVALSHA, reloaded by itself after a Redis restart) and admits requests from its lease locally;
 * it goes back to Redis only when the lease runs out, for what the lease lacks. Redis never grants
 * more than the limit, so the fleet never admits more than the limit in a window; points still in a
 * lease when the window ends are simply not used (the tolerance is under-admission, about one lease
 * per replica): near the window's end, tokens that requests did not use go back to Redis beyond one
 * lease, so any replica can use them.
 *
 * Redis away, or slower than the command timeout: admission falls back to this process's own
 * `FlexibleLimiter` with `limit ÷ live replicas` (so the fleet stays near the limit), and returns to
 * the shared counters by itself. In-flight counts (`maxConcurrent`) are always local shares,
 * `⌈max ÷ live replicas⌉` each: a shared in-flight count would cost a round trip at the end of every
 * request and leak when a replica dies.
 */
export class SharedLimiter implements Limiter {
  readonly windowMs: number;
  private readonly link: RedisLink;
  private readonly liveReplicasOf: () => number;
  private readonly fraction: number;
  private readonly leases = new Map<string, Lease>();
  private readonly concurrency: ConcurrencyStore;
  private replicas: number;
  private local: FlexibleLimiter;
  /** Leases whose window under way was carried into the local limiter in this outage. */
  private readonly carried = new Set<string>();
  /**
   * What this replica admitted on its own share while Redis was away, per lease key, for the fleet's
   * window once Redis is back (else the fleet would count none of it and admit it again).
   */
  private readonly owed = new Map<string, { limit: number; points: number; since: number }>();

  constructor(opts: SharedLimiterOptions) {
    this.link = opts.link;
    this.liveReplicasOf = opts.liveReplicas;
    this.windowMs = opts.windowMs ?? DEFAULT_WINDOW_MS;
    this.fraction = opts.leaseFraction ?? 0.1;
    this.replicas = Math.max(1, opts.liveReplicas());
    this.concurrency = new FleetShareConcurrency(() => this.replicas);
    this.local = this.localLimiter();
    // Each outage carries over the window under way anew; what it admitted alone is charged to the fleet.
    opts.link.on('up', () => {
      this.carried.clear();
      this.payOutage();
    });
    opts.link.client.defineCommand('apLimitBorrow', { numberOfKeys: 1, lua: BORROW_SCRIPT });
    opts.link.client.defineCommand('apLimitReturn', { numberOfKeys: 1, lua: RETURN_SCRIPT });
  }

  /** The replica count the local shares divide by. */
  get liveReplicas(): number {
    return this.replicas;
  }

  /** The fleet grew or shrank: local fallbacks take the new share. Called by the fleet view. */
  refreshReplicas(): void {
    const n = Math.max(1, this.liveReplicasOf());
    if (n === this.replicas) return;
    this.replicas = n;
    this.local.close();
    this.local = this.localLimiter();
    this.carried.clear();
  }

  async admit(subject: string, limits: RateLimits, tokens: number): Promise<Admission> {
    const { rpm, tpm, maxConcurrent } = limits;
    if (!this.link.up) return this.localAdmit(subject, limits, tokens);
    // Taken synchronously, before any await, so concurrent admits cannot all see a free slot.
    if (maxConcurrent !== undefined && !this.concurrency.tryAcquire(subject, maxConcurrent)) {
      return { ok: false, reason: 'concurrency', retryAfterMs: 1000, status: this.status(subject, limits) };
    }
    const release = () => {
      if (maxConcurrent !== undefined) this.concurrency.release(subject);
    };
    const reserved = tpm === undefined ? 0 : Math.max(0, Math.min(Math.ceil(tokens), tpm));
    // One window per subject and kind, whatever the limit: a reloaded limit applies to the window under way.
    const rk = rpm === undefined ? undefined : `${subject}:rpm`;
    const tk = tpm === undefined ? undefined : `${subject}:tpm`;
    if (rk !== undefined) this.retarget(rk, rpm!);
    if (tk !== undefined) this.retarget(tk, tpm!);
    // Borrow what the leases lack; both borrows leave in the same tick (one round trip, auto-pipelined).
    // Admits sharing a borrow may find it taken by the others: borrow again while the fleet has points.
    let refusal: 'requests' | 'tokens' | undefined;
    for (let round = 0; ; round++) {
      const needRequests = rk !== undefined && !this.has(rk, 1);
      const needTokens = tk !== undefined && !this.has(tk, reserved);
      if (!needRequests && !needTokens) break;
      if (round === 5 || (needRequests && this.drained(rk!)) || (needTokens && this.drained(tk!))) {
        refusal = needRequests ? 'requests' : 'tokens';
        break;
      }
      try {
        const lacking: Array<Promise<void>> = [];
        if (needRequests) lacking.push(this.borrow(rk!, rpm!, 1));
        if (needTokens) lacking.push(this.borrow(tk!, tpm!, reserved));
        await Promise.all(lacking);
      } catch {
        // Redis failed or was too slow for this request: this replica's share decides it.
        release();
        return this.localAdmit(subject, limits, tokens);
      }
    }
    if (refusal !== undefined) {
      release();
      const status = this.status(subject, limits);
      const w = (refusal === 'requests' ? status.requests : status.tokens)!;
      return { ok: false, reason: refusal, retryAfterMs: Math.max(1, w.resetMs), status };
    }
    // Points not yet in a lease stay with the fleet: take ours now, synchronously.
    if (rk !== undefined) this.leases.get(rk)!.left -= 1;
    const tokenLease = tk === undefined ? undefined : this.leases.get(tk)!;
    if (tokenLease !== undefined) tokenLease.left -= reserved;
    const windowEnd = tokenLease?.until ?? 0;
    let settled = false;
    const reservation: Reservation = {
      status: this.status(subject, limits),
      reservedTokens: reserved,
      settle: (used) => {
        if (settled) return;
        settled = true;
        release();
        if (tokenLease === undefined || used === undefined) return;
        // Within the window the difference goes back to (or is taken from) the lease; a negative
        // lease is paid at its next borrow. After the window only tokens beyond the reservation count.
        const diff = Math.ceil(used) - reserved;
        if (Date.now() < windowEnd) {
          tokenLease.left -= diff;
          if (diff < 0) this.giveBack(tk!, tokenLease, tpm!, reserved);
        } else if (diff > 0) tokenLease.left -= diff;
      },
    };
    return { ok: true, reservation };
  }

  async peek(subject: string, limits: RateLimits): Promise<LimitStatus> {
    if (!this.link.up) return againstLimits(await this.local.peek(subject, this.share(limits)), limits);
    return this.status(subject, limits);
  }

  close(): void {
    this.leases.clear();
    this.local.close();
  }

  /** The lease holds `n` points for a window that has not ended. */
  private has(key: string, n: number): boolean {
    const l = this.leases.get(key);
    return l !== undefined && Date.now() < l.until && l.left >= n;
  }

  /** The fleet has no more points for this lease in its current window. */
  private drained(key: string): boolean {
    const l = this.leases.get(key);
    return l !== undefined && l.drained && Date.now() < l.until;
  }

  /** Points a replica borrows at a time (at least): a tenth of its share of the limit by default. */
  private chunk(limit: number): number {
    return Math.max(1, Math.ceil((limit / this.replicas) * this.fraction));
  }

  /**
   * Tokens a request did not use went back to its lease. Far from the limit they stay there for this
   * replica's next requests (no round trip). Once the fleet's count (at this lease's last borrow) is
   * within one request's reservation per replica of the limit, whatever the lease holds beyond one
   * chunk goes back to Redis, so that the window's last points are usable by whichever replica gets
   * the next request instead of sitting in this one's lease (one command, not awaited).
   */
  private giveBack(key: string, lease: Lease, limit: number, reserved: number): void {
    const chunk = this.chunk(limit);
    const excess = lease.left - chunk;
    if (excess <= 0 || limit - lease.used >= this.replicas * Math.max(chunk, reserved) || !this.link.up) return;
    const windowLeft = lease.until - Date.now();
    if (windowLeft <= 0) return;
    this.giveBackPoints(key, lease, excess, windowLeft);
  }

  /**
   * A limit changed by a reload: the lease's unused points were borrowed under the old one, so they
   * go back to Redis and the next admit borrows under the new one (the window's count is kept).
   */
  private retarget(key: string, limit: number): void {
    const lease = this.leases.get(key);
    if (lease === undefined || lease.limit === limit) return;
    lease.limit = limit;
    lease.drained = false;
    const windowLeft = lease.until - Date.now();
    if (lease.left <= 0 || windowLeft <= 0 || !this.link.up) {
      lease.left = Math.min(0, lease.left);
      return;
    }
    this.giveBackPoints(key, lease, lease.left, windowLeft);
  }

  private giveBackPoints(key: string, lease: Lease, n: number, windowLeftMs: number): void {
    lease.left -= n;
    lease.used -= n;
    // Our deadline is at or after Redis's (it was taken when the answer arrived): a little slack for timer rounding.
    (this.link.client as unknown as LimitClient).apLimitReturn(this.link.key('rl', `{${key}}`), n, windowLeftMs + 100).catch((err: unknown) => this.link.failed(err));
  }

  /** The lease of `key`, an empty one (no points, no window) the first time. */
  private leaseOf(key: string, limit: number): Lease {
    let l = this.leases.get(key);
    if (l === undefined) {
      l = { limit, left: 0, used: 0, drained: false, until: 0, demand: 0, least: Infinity, pending: undefined };
      this.leases.set(key, l);
    }
    return l;
  }

  /**
   * One borrow per lease at a time; admits that arrive meanwhile share it. `takeAny`: whatever the
   * window has left is taken, even less than the lease lacks (paying a debt: every point counts).
   */
  private borrow(key: string, limit: number, need: number, takeAny = false): Promise<void> {
    const lease = this.leaseOf(key, limit);
    lease.demand += need;
    lease.least = Math.min(lease.least, need);
    lease.pending ??= (async () => {
      // Let the admits of this tick add their demand first: one borrow for all of them.
      await Promise.resolve();
      try {
        if (Date.now() >= lease.until) {
          lease.left = Math.min(0, lease.left); // a new window: unused points of the old one are gone, debts are not
          lease.used = 0;
          lease.drained = false;
        }
        // Borrow only what the lease lacks (points it holds count, debts are paid), at least a chunk.
        const want = Math.max(lease.demand - lease.left, this.chunk(limit));
        const least = takeAny ? 1 : Math.max(1, lease.least - lease.left);
        lease.least = Infinity;
        const [granted, used, ttl] = (await (this.link.client as unknown as LimitClient).apLimitBorrow(this.link.key('rl', `{${key}}`), want, limit, this.windowMs, least)) as [number, number, number];
        lease.left += granted;
        lease.used = used;
        lease.drained = granted < want;
        lease.until = Date.now() + ttl;
      } catch (err) {
        this.link.failed(err);
        throw err;
      } finally {
        lease.pending = undefined;
      }
    })();
    return lease.pending.finally(() => {
      lease.demand -= need;
    });
  }

  /** The fleet's state as this replica knows it, for `x-ratelimit-*` headers. */
  private status(subject: string, limits: RateLimits): LimitStatus {
    const out: { requests?: LimitWindow; tokens?: LimitWindow } = {};
    if (limits.rpm !== undefined) out.requests = this.window(`${subject}:rpm`, limits.rpm);
    if (limits.tpm !== undefined) out.tokens = this.window(`${subject}:tpm`, limits.tpm);
    return out;
  }

  private window(key: string, limit: number): LimitWindow {
    const l = this.leases.get(key);
    const now = Date.now();
    if (l === undefined || now >= l.until) return { limit, remaining: limit, resetMs: 0 };
    return { limit, remaining: Math.max(0, Math.min(limit, limit - l.used + Math.max(0, l.left))), resetMs: l.until - now };
  }

  /** This replica's share of each limit while Redis is away. */
  /** Admission on this replica's share while Redis is away, the window under way carried over. */
  private async localAdmit(subject: string, limits: RateLimits, tokens: number): Promise<Admission> {
    const share = this.share(limits);
    if (share.rpm !== undefined) await this.carryOver(`${subject}:rpm`, subject, 'rpm', share.rpm);
    if (share.tpm !== undefined) await this.carryOver(`${subject}:tpm`, subject, 'tpm', share.tpm);
    const a = await this.local.admit(subject, share, tokens);
    if (!a.ok) return { ...a, status: againstLimits(a.status, limits) };
    if (limits.rpm !== undefined) this.owe(`${subject}:rpm`, limits.rpm, 1);
    if (limits.tpm !== undefined) this.owe(`${subject}:tpm`, limits.tpm, a.reservation.reservedTokens);
    const r = a.reservation;
    return { ok: true, reservation: { status: againstLimits(r.status, limits), reservedTokens: r.reservedTokens, settle: (used) => r.settle(used) } };
  }

  private owe(key: string, limit: number, points: number): void {
    if (points <= 0) return;
    const now = Date.now();
    const o = this.owed.get(key);
    // Admissions older than a window belong to a window that has ended everywhere.
    if (o === undefined || now - o.since >= this.windowMs) this.owed.set(key, { limit, points, since: now });
    else {
      o.points += points;
      o.limit = limit;
    }
  }

  /**
   * Redis is back: what this replica admitted alone in the last window becomes a debt on its lease,
   * and a borrow pays it at once, so the fleet's window counts it (up to the limit: Redis never grants
   * past it, and a lease left in debt admits nothing until the window ends).
   */
  private payOutage(): void {
    const now = Date.now();
    for (const [key, o] of this.owed) {
      if (now - o.since >= this.windowMs) continue;
      this.leaseOf(key, o.limit).left -= o.points;
      this.borrow(key, o.limit, 0, true).catch(() => {});
    }
    this.owed.clear();
  }

  /**
   * Once per outage and window: the local window starts with what this replica may no longer take
   * of the fleet's window under way. Its allowance is its lease's unused points plus its share of
   * what the fleet had not taken at its last borrow. Before, the local window started empty, and a
   * Redis outage in mid-minute let the fleet admit up to twice the limit in that minute.
   */
  private async carryOver(leaseKey: string, subject: string, kind: 'rpm' | 'tpm', share: number): Promise<void> {
    if (this.carried.has(leaseKey)) return;
    this.carried.add(leaseKey);
    const lease = this.leases.get(leaseKey);
    const windowLeft = lease === undefined ? 0 : lease.until - Date.now();
    if (lease === undefined || windowLeft <= 0) return;
    const allowance = Math.max(0, lease.left) + Math.max(0, lease.limit - lease.used) / this.replicas;
    const taken = Math.ceil(share - allowance);
    if (taken > 0) await this.local.preset(subject, kind, taken, windowLeft);
  }

  private share(limits: RateLimits): RateLimits {
    const n = this.replicas;
    const part = (v: number | undefined) => (v === undefined ? undefined : Math.max(1, Math.floor(v / n)));
    return { rpm: part(limits.rpm), tpm: part(limits.tpm), maxConcurrent: limits.maxConcurrent === undefined ? undefined : Math.max(1, Math.ceil(limits.maxConcurrent / n)) };
  }

  private localLimiter(): FlexibleLimiter {
    return new FlexibleLimiter({ windowMs: this.windowMs, createCounter: (o) => new RateLimiterMemory(o) });
  }
}

/**
 * A local share's state told against the subject's own limits: the `x-ratelimit-limit-*` headers (and
 * the 429's message) name the key's rpm / tpm, as with Redis; `remaining` is what this replica may
 * still admit on its share.
 */
function againstLimits(s: LimitStatus, limits: RateLimits): LimitStatus {
  const out: { requests?: LimitWindow; tokens?: LimitWindow } = {};
  if (s.requests !== undefined) out.requests = limits.rpm === undefined ? s.requests : { ...s.requests, limit: limits.rpm };
  if (s.tokens !== undefined) out.tokens = limits.tpm === undefined ? s.tokens : { ...s.tokens, limit: limits.tpm };
  return out;
}

interface LimitClient {
  apLimitBorrow(key: string, want: number, limit: number, windowMs: number, least: number): Promise<unknown>;
  apLimitReturn(key: string, points: number, windowLeftMs: number): Promise<unknown>;
}

/** `maxConcurrent` split over the fleet: this replica holds its share of the slots. */
class FleetShareConcurrency implements ConcurrencyStore {
  private readonly local = new MemoryConcurrency();
  constructor(private readonly replicas: () => number) {}

  tryAcquire(subject: string, max: number): boolean {
    return this.local.tryAcquire(subject, Math.max(1, Math.ceil(max / this.replicas())));
  }

  release(subject: string): void {
    this.local.release(subject);
  }
}
