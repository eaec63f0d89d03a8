import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AcquireAbortedError,
  AcquireTimeoutError,
  CreateFailedError,
  TooManyWaitersError,
} from '../pool/errors.js';
import type { AcquireOptions, PoolLogger } from '../pool/types.js';
import { ProviderError } from '../providers/errors.js';
import type { CallOptions, ChatAdapter, ChatCompletionRequest, ChatCompletionStream } from '../providers/types.js';
import { DeploymentsAtLimitError, type AdmissionVerdict, type DeploymentAdmission, type Estimate } from './admission.js';
import { retryDelay, type BackoffOptions } from './backoff.js';
import { Permit, type CircuitState } from './circuit-breaker.js';
import { alwaysTrue, hasAlternative, nextAfter } from './candidates.js';
import { DeploymentState } from './deployment-state.js';
import { abortError, NoDeploymentAvailableError, openCircuitReasons, stopped, traced } from './errors.js';
import { LeasedStream } from './leased-stream.js';
import type { RouterPool } from './pool-port.js';
import { RequestBudget } from './request-budget.js';
import { CIRCUIT_FIELDS, definedOnly, pickCircuit } from './settings.js';
import { createStrategy, type DeploymentView, type RandomSource, type Strategy } from './strategies/index.js';
import {
  DEFAULT_ROUTING_CONFIG,
  type AdapterCall,
  type CallResult,
  type CallSettings,
  type CircuitSettings,
  type Deployment,
  type DeploymentHealth,
  type ExecuteOptions,
  type ExecuteResult,
  type Route,
  type RouteOptions,
  type RouteResult,
  type RouterEventName,
  type RouterEvents,
  type RoutingConfig,
  type StrategyName,
  type StreamResult,
} from './types.js';

// Their home moved out of this module; importers of router.js keep finding them here.
export { NoDeploymentAvailableError, routeTrace } from './errors.js';
export type { AdapterCall, DeploymentHealth, RouterEventName, RouterEvents } from './types.js';

export interface RouterOptions {
  pool: RouterPool<ChatAdapter>;
  /** Per-call defaults and every deployment's circuit settings. */
  routing?: Partial<RoutingConfig>;
  /** Per-deployment request limits (rpm/tpm); absent: no limits. */
  admission?: DeploymentAdmission;
  logger?: PoolLogger;
  /** Injectable for tests: jitter and power-of-two-choices draws. */
  random?: RandomSource;
  /** Injectable for tests: the clock of circuits, latencies and the budget's retry deadline (its abort timer runs on real time). */
  now?: () => number;
}

/**
 * A route's strategy, twice: one instance makes each request's first pick, the other picks where a
 * request goes after a deployment failed it. With one, a failing deployment's requests advanced the
 * rotation a second time per request: round robin gave the failing one half of the first picks and
 * split the rest 1:3, failover sent every fallback to the same backup of its tier.
 */
interface RoutePickers {
  readonly first: Strategy;
  readonly again: Strategy;
}

/** The successful attempt of the loop: what a stream needs to hold its lease until it ends. */
interface Attempt<T> {
  value: T;
  deployment: Deployment;
  attempts: number;
  latencyMs: number;
  state: DeploymentState;
  permit: Permit;
  adapter: ChatAdapter;
  /** The request's budget, still holding the caller's signal while a stream runs. */
  budget: RequestBudget | undefined;
}

/** Retry-After suggested when every deployment is only busy. */
const BUSY_RETRY_AFTER_MS = 1000;

/**
 * Picks a deployment per request with the route's strategy, borrows an adapter from its pool, calls
 * it, gives the adapter back; retries with backoff and fails over on retryable upstream errors within
 * a budget; keeps a circuit per deployment fed by call outcomes (passive) and pool health events (active).
 */
export class Router {
  private readonly pool: RouterPool<ChatAdapter>;
  private config: RoutingConfig;
  private readonly admission: DeploymentAdmission | undefined;
  private readonly logger: PoolLogger | undefined;
  private readonly random: RandomSource;
  private readonly now: () => number;
  private readonly emitter = new EventEmitter();
  private readonly states = new Map<string, DeploymentState>();
  /** Deployments whose `throttledUntil` is set (some may have expired, until `withoutThrottled` sees them). */
  private throttledCount = 0;
  /** Strategy state by route name, then strategy (a reloaded route with another strategy starts fresh). */
  private readonly strategies = new Map<string, Map<StrategyName, RoutePickers>>();
  private callConfigs = new WeakMap<Partial<CallSettings>, RoutingConfig>();
  private circuitConfigs = new WeakMap<Partial<RoutingConfig>, CircuitSettings | null>();
  private readonly view: DeploymentView;
  /** Shared-circuit holds for deployments this router has not made state for yet (deadline, clock of `now`). */
  private readonly pendingHolds = new Map<string, number>();
  private closed = false;

  constructor(opts: RouterOptions) {
    this.pool = opts.pool;
    this.config = { ...DEFAULT_ROUTING_CONFIG, ...opts.routing };
    this.admission = opts.admission;
    this.logger = opts.logger;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.view = {
      load: (d) => {
        const s = this.pool.keyState(d.model, d.provider);
        return s === undefined || s.maxPoolSize <= 0 ? 0 : s.inUse / s.maxPoolSize;
      },
      latencyMs: (d) => this.states.get(d.key)?.latencyAt(this.now()),
      inFlight: (d) => this.states.get(d.key)?.inFlight ?? 0,
    };
    this.pool.on('unhealthy', this.onPoolUnhealthy);
    this.pool.on('recovered', this.onPoolRecovered);
    this.pool.on('healthCheck', this.onHealthCheck);
  }

  on<E extends RouterEventName>(event: E, fn: (payload: RouterEvents[E]) => void): this {
    this.emitter.on(event, fn);
    return this;
  }

  off<E extends RouterEventName>(event: E, fn: (payload: RouterEvents[E]) => void): this {
    this.emitter.off(event, fn);
    return this;
  }

  /**
   * Serve one chat request from `route`. Resolves with the completion, or with a stream whose first
   * event the provider already validated; either carries the deployment, the attempts and the
   * latency (a stream's: its time to first token). Rejects with the ProviderError that ended the
   * request (client errors at once, others once the budget or the deployments are exhausted),
   * NoDeploymentAvailableError when every deployment is down (or busy past the wait),
   * DeploymentsAtLimitError when every one is at its request limit, or, unchanged, an error raised
   * in our own process. `routeTrace(error)` tells how far a failed request got.
   */
  async route(request: ChatCompletionRequest, route: Route, options?: RouteOptions): Promise<RouteResult> {
    if (request.stream === true) return this.routeStream(request, route, options);
    const a = await this.run(route, options, (adapter, o) => adapter.chatCompletion(request, o), false, request);
    return { kind: 'completion', completion: a.value, deployment: a.deployment, attempts: a.attempts, latencyMs: a.latencyMs };
  }

  /**
   * The same pick / retry / failover / circuit loop for any call that completes in one answer
   * (embeddings, a non-streaming /v1/messages). Why one loop: every endpoint that reaches an upstream
   * must fail over, back off and feed the circuits the same way; only the call on the adapter differs.
   * `call` must reject with a ProviderError for upstream failures; anything else it throws is taken
   * as our own error and ends the request without counting against the deployment. The adapter goes
   * back to the pool before this resolves. Streams go through `route()` or `routeStreamCall()`, which
   * keep the adapter until the stream ends. `estimate`: what deployment token limits reserve for (a
   * `TokenEstimate` the caller sized; absent: the call counts against request limits only).
   */
  async routeCall<T>(route: Route, call: AdapterCall<T>, options?: RouteOptions, estimate?: Estimate): Promise<CallResult<T>> {
    const a = await this.run(route, options, call, false, estimate);
    return { value: a.value, deployment: a.deployment, attempts: a.attempts, latencyMs: a.latencyMs };
  }

  /**
   * `route()`'s stream path for a stream that `call` opens (a /v1/messages request passed through to an
   * `anthropic` deployment): the same loop up to the provider's validated first event, then the stream
   * holds the adapter until it ends.
   */
  async routeStreamCall(route: Route, call: AdapterCall<ChatCompletionStream>, options?: RouteOptions, estimate?: Estimate): Promise<StreamResult> {
    const a = await this.run(route, options, call, true, estimate);
    const { state, permit, adapter } = a;
    // From here bytes may reach the client: no more retries. The stream's end settles the call.
    const stream = new LeasedStream(a.value, (error) => {
      a.budget?.detach();
      const broken = state.settle(permit, error);
      void this.release(adapter, state.deployment, broken);
    });
    return { kind: 'stream', stream, deployment: a.deployment, attempts: a.attempts, latencyMs: a.latencyMs };
  }

  /**
   * The strategy manager's original entry, kept for library users: a facade over `route()` with a route named after
   * `request.model`. `config`'s per-call fields (attempts, backoff, timeouts, fullPoolWaitMs) apply to
   * this call only; its circuit fields are the deployments' own settings: passing them sets them for
   * every later request on those deployments too (a circuit is the deployment's, not a request's).
   */
  executeStrategy(
    request: ChatCompletionRequest,
    modelProviders: readonly Deployment[],
    strategy: StrategyName,
    config?: Partial<RoutingConfig>,
    options?: ExecuteOptions,
  ): Promise<ExecuteResult> {
    if (config !== undefined) this.applyCircuit(modelProviders, config);
    const route: Route = { name: request.model, strategy, deployments: modelProviders };
    const opts: RouteOptions = { settings: config };
    if (options?.signal !== undefined) opts.signal = options.signal;
    if (options?.requestId !== undefined) opts.requestId = options.requestId;
    return this.route(request, route, opts);
  }

  /**
   * A reloaded config's routing settings become the router's own: attempts, backoff and timeouts
   * apply from the next request; circuit thresholds to every deployment now, each circuit keeping
   * its state (an open one stays open until its cooldown ends).
   */
  configure(routing: Partial<RoutingConfig>): void {
    this.config = { ...DEFAULT_ROUTING_CONFIG, ...definedOnly(routing) };
    this.callConfigs = new WeakMap();
    this.circuitConfigs = new WeakMap();
    const circuit = pickCircuit(this.config);
    for (const s of this.states.values()) s.configure(circuit);
  }

  /**
   * Know these deployments before their first request: their circuits exist from now on, so a health
   * check that finds every adapter of one unhealthy opens its circuit even before anything was routed
   * to it (it was ignored, the deployment showing `closed`), and status pages list them. The gateway
   * calls it with every route at start and at each reload.
   */
  register(deployments: Iterable<Deployment>): void {
    for (const d of deployments) this.stateOf(d);
  }

  /**
   * Drop a removed deployment's state (circuit, latency, in-flight count): status pages and metrics stop
   * listing it. Calls still holding it finish on it; if the key comes back, it starts afresh.
   */
  forget(key: string): void {
    if ((this.states.get(key)?.throttledUntil ?? 0) !== 0) this.throttledCount--;
    this.states.delete(key);
    this.pendingHolds.delete(key);
  }

  /** Per-deployment state, for status pages and metrics. */
  deploymentHealth(): DeploymentHealth[] {
    const out: DeploymentHealth[] = [];
    for (const s of this.states.values()) {
      const b = s.breaker;
      const h: DeploymentHealth = {
        key: s.deployment.key,
        provider: s.deployment.provider,
        model: s.deployment.model,
        circuit: b.state,
        consecutiveFailures: b.consecutiveFailures,
        failureRate: b.failureRate(),
        ewmaLatencyMs: s.ewmaMs,
        inFlight: s.inFlight,
      };
      const openedAt = b.openedSince;
      if (openedAt !== undefined) {
        h.openedAt = openedAt;
        h.retryAfterMs = b.retryAfterMs();
      }
      if (s.lastFailure !== undefined) h.lastFailure = s.lastFailure;
      out.push(h);
    }
    return out;
  }

  /**
   * Hold a deployment's circuit open for `ms` because another replica opened it (shared circuits).
   * True if the router knows the deployment (it has served or been asked for it).
   */
  holdCircuit(key: string, ms: number): boolean {
    const s = this.states.get(key);
    if (s === undefined) {
      // Not served here yet: apply the hold when the deployment's state is made.
      this.pendingHolds.set(key, this.now() + ms);
      return true;
    }
    s.breaker.hold(ms);
    return true;
  }

  /** The replica that probed a shared circuit found the deployment working again: close ours too. */
  releaseCircuit(key: string): void {
    this.pendingHolds.delete(key);
    this.states.get(key)?.breaker.release();
  }

  /** Stop listening to the pool. In-flight requests finish normally; the pool is the caller's to close. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pool.off?.('unhealthy', this.onPoolUnhealthy);
    this.pool.off?.('recovered', this.onPoolRecovered);
    this.pool.off?.('healthCheck', this.onHealthCheck);
    this.emitter.removeAllListeners();
  }

  // --- internals -------------------------------------------------------------------------------

  private routeStream(request: ChatCompletionRequest, route: Route, options: RouteOptions | undefined): Promise<StreamResult> {
    return this.routeStreamCall(route, (adapter, o) => adapter.chatCompletionStream(request, o), options, request);
  }

  /**
   * The attempt loop. `hold`: the value keeps the adapter (a stream), so neither the adapter nor the
   * circuit permit is settled here; the caller settles them when the value is done.
   */
  private async run<T>(route: Route, options: RouteOptions | undefined, call: AdapterCall<T>, hold: boolean, request?: Estimate): Promise<Attempt<T>> {
    const cfg = options?.settings === undefined ? this.config : this.callConfig(options.settings);
    const all = route.deployments;
    const pickers = this.pickersFor(route);
    const strict = pickers.first.strictPriority;
    const signal = options?.signal;
    const requestId = options?.requestId;
    if (signal?.aborted) throw traced(abortError(all[0]?.provider ?? 'router', signal.reason), 0, undefined);
    // The calls and waits get a signal that fires on the caller's hang-up or when the budget runs out.
    const budget = cfg.requestTimeoutMs > 0 && Number.isFinite(cfg.requestTimeoutMs) ? new RequestBudget(signal, cfg.requestTimeoutMs) : undefined;
    const callSignal = budget === undefined ? signal : budget.signal;
    // One options object serves both the call and a waiting acquire (both only carry the signal).
    const callOpts: CallOptions & AcquireOptions = callSignal === undefined ? NO_SIGNAL : { signal: callSignal };

    // The retry decisions' deadline, on the injectable clock; none without a budget (0 or Infinity).
    const deadline = budget === undefined ? Infinity : this.now() + cfg.requestTimeoutMs;
    let attempts = 0;
    let last: Deployment | undefined; // the deployment tried last
    let failed: Set<string> | undefined; // deployments this request gave up on (errors, open circuits, limits)
    let busy: Deployment[] | undefined; // deployments skipped because their pool was full
    let first: Deployment | undefined; // the strategy's pick, while the request only met full pools
    let sticky: Deployment | undefined; // retry target after a backoff
    let limitedRetryAfter: number | undefined; // earliest end of a request limit that ruled a deployment out
    let perDeployment = 0;
    let previousDelay = 0;
    let lastError: unknown;
    // Given up on a deployment: told as a failover once the request goes to another one (on a model
    // with one deployment, or when nothing else can serve, it was not moved anywhere).
    let moved: Pick<RouterEvents['failover'], 'from' | 'attempt' | 'error' | 'reason'> | undefined;

    try {
      for (;;) {
        // 1. Choose: the retry target; else the strategy's pick among deployments that are up (one pick
        //    per request: a full pool spills in route order, it does not advance the strategy twice);
        //    else wait on a busy one.
        let d: Deployment;
        let wait: boolean;
        if (sticky !== undefined) {
          d = sticky;
          sticky = undefined;
          // A busy pool is no reason to queue for a retry either while another deployment could serve.
          wait = !hasAlternative(this.eligible(all, failed, busy), d, strict);
        } else {
          const candidates = this.eligible(all, failed, busy);
          if (candidates.length > 0) {
            if (first === undefined) {
              // A request's first pick, or (after a deployment failed it) where it goes instead.
              d = (failed === undefined ? pickers.first : pickers.again).pick(candidates, this.view);
              perDeployment = 0;
              previousDelay = 0;
              wait = !hasAlternative(candidates, d, strict);
              if (!wait && this.isFull(d)) {
                // Every pool full: queue where the strategy sent it, so each deployment keeps its share.
                const spill = nextAfter(candidates, all, d, strict, (c) => !this.isFull(c));
                if (spill === undefined) wait = true;
                else {
                  this.emitFailover(requestId, d, attempts, undefined, 'busy');
                  first = d;
                  d = spill;
                }
              }
            } else {
              d = nextAfter(candidates, all, first, strict, alwaysTrue) ?? first;
              wait = d === first || !hasAlternative(candidates, d, strict);
            }
          } else {
            const next = busy === undefined ? undefined : first !== undefined && busy.includes(first) && this.isUp(first) ? first : this.firstUp(busy);
            if (next === undefined) {
              if (lastError !== undefined) throw traced(lastError, attempts, last);
              if (limitedRetryAfter !== undefined) throw traced(new DeploymentsAtLimitError(route.name, limitedRetryAfter), attempts, last);
              throw traced(this.noDeployment(route.name, all), attempts, last);
            }
            busy!.splice(busy!.indexOf(next), 1);
            d = next;
            wait = true;
            perDeployment = 0;
            previousDelay = 0;
          }
        }
        if (moved !== undefined) {
          if (d !== moved.from) this.emitFailover(requestId, moved.from, moved.attempt, moved.error, moved.reason);
          moved = undefined;
        }
        const state = this.stateOf(d);
        const permit = state.breaker.tryAcquire();
        if (permit === Permit.Denied) {
          // Opened (or its probe went out) since we looked: treat as down for this request.
          (failed ??= new Set()).add(d.key);
          first = undefined;
          moved = { from: d, attempt: attempts, error: lastError, reason: 'circuit_open' };
          continue;
        }
        if (this.admission !== undefined) {
          let verdict: AdmissionVerdict | Promise<AdmissionVerdict> = this.admission.admit(d, request);
          if (verdict !== true && 'then' in verdict) verdict = await verdict;
          if (verdict !== true) {
            // At its request limit: skipped like a full pool, for this request.
            state.breaker.onNeutral(permit);
            limitedRetryAfter = Math.min(limitedRetryAfter ?? Infinity, verdict.retryAfterMs);
            (failed ??= new Set()).add(d.key);
            moved = { from: d, attempt: attempts, error: undefined, reason: 'busy' };
            continue;
          }
        }

        // 2. Borrow an adapter. Not an attempt yet: no upstream call was made.
        let adapter: ChatAdapter;
        try {
          adapter = await this.pool.getAdapter(d.model, d.provider, wait ? callOpts : acquireOptions(callSignal, cfg.fullPoolWaitMs));
        } catch (err) {
          if (callSignal?.aborted || err instanceof AcquireAbortedError) {
            state.breaker.onNeutral(permit);
            throw traced(stopped(budget, signal, d.provider, err), attempts, last);
          }
          if (err instanceof AcquireTimeoutError || err instanceof TooManyWaitersError) {
            state.breaker.onNeutral(permit);
            if (!wait) {
              first ??= d;
              (busy ??= []).push(d);
              moved = { from: d, attempt: attempts, error: err, reason: 'busy' };
              continue;
            }
            const busyErr = new NoDeploymentAvailableError(route.name, BUSY_RETRY_AFTER_MS, `every deployment of ${route.name} is busy: ${err.message}`, { cause: err });
            throw traced(busyErr, attempts, last);
          }
          if (err instanceof CreateFailedError) {
            // The pool could not build a client for the deployment: its fault, like a failed call.
            state.breaker.onFailure(permit);
            lastError = err;
            (failed ??= new Set()).add(d.key);
            first = undefined;
            moved = { from: d, attempt: attempts, error: err, reason: 'error' };
            continue;
          }
          state.breaker.onNeutral(permit);
          throw traced(err, attempts, last); // pool closed, or a bug
        }

        // A permit granted while closed, then a wait in the pool queue during which the circuit opened:
        // do not add one more call to a deployment already known to be down.
        if (permit === Permit.Normal && state.breaker.state !== 'closed') {
          state.breaker.onNeutral(permit);
          void this.release(adapter, d); // settles synchronously; no microtask hop on the hot path
          (failed ??= new Set()).add(d.key);
          first = undefined;
          moved = { from: d, attempt: attempts, error: lastError, reason: 'circuit_open' };
          continue;
        }

        // 3. Call it.
        attempts++;
        perDeployment++;
        last = d;
        if (this.emitter.listenerCount('attempt') > 0) this.emit('attempt', { requestId, deployment: d, attempt: attempts });
        state.inFlight++;
        const started = this.now();
        let value: T;
        try {
          value = await call(adapter, callOpts);
        } catch (err) {
          // Auth / quota failures say the adapter (its key) is broken: the pool stops lending it until a check passes.
          void this.release(adapter, d, state.settle(permit, err));

          // 4. Decide: give up, retry here after a backoff, or fail over.
          if (callSignal?.aborted || (err instanceof ProviderError && err.errorClass === 'aborted')) {
            throw traced(budget?.expired === true || !(err instanceof ProviderError) ? stopped(budget, signal, d.provider, err) : err, attempts, d);
          }
          // Raised in our own process, not by the upstream: the same on any deployment, so no retry.
          if (!(err instanceof ProviderError)) throw traced(err, attempts, d);
          const action = err.action;
          if (!action.retry && !action.failover) throw traced(err, attempts, d); // the caller's fault
          lastError = err;
          // A 429 asks for time: the next requests go elsewhere while another deployment can serve (this
          // one honours the Retry-After itself, up to routing.maxRetryAfter, as below).
          if (err.errorClass === 'rate_limited') this.throttle(state, Math.min(err.retryAfterMs ?? THROTTLE_DEFAULT_MS, cfg.maxRetryAfterMs));
          if (attempts >= cfg.maxAttempts || this.now() >= deadline) throw traced(err, attempts, d);
          // A deployment that asked for time (a 429, a Retry-After) is waited for only when no other
          // deployment can take the request (of any tier: the backups are there for this too).
          const waitHere = !(err.errorClass === 'rate_limited' || err.retryAfterMs !== undefined) || !action.failover || !hasAlternative(this.eligible(all, failed, busy), d, false);

          if (action.retry && waitHere && perDeployment < cfg.maxAttemptsPerDeployment && state.breaker.canPass()) {
            const delay = retryDelay(perDeployment, previousDelay, err.retryAfterMs, backoffOptions(cfg), this.random);
            if (delay !== undefined && this.now() + delay < deadline) {
              if (this.emitter.listenerCount('retry') > 0) this.emit('retry', { requestId, deployment: d, attempt: attempts, delayMs: delay, error: err });
              try {
                await sleep(delay, undefined, callSignal === undefined ? undefined : { signal: callSignal });
              } catch (sleepErr) {
                throw traced(stopped(budget, signal, d.provider, sleepErr), attempts, d);
              }
              previousDelay = delay;
              sticky = d;
              continue;
            }
          }
          if (!action.failover) throw traced(err, attempts, d);
          (failed ??= new Set()).add(d.key);
          first = undefined;
          moved = { from: d, attempt: attempts, error: err, reason: 'error' };
          continue;
        }
        const latencyMs = this.now() - started;
        state.observeLatency(latencyMs, this.now());
        if (!hold) {
          state.settle(permit);
          void this.release(adapter, d); // settles synchronously; no microtask hop on the hot path
        }
        if (this.emitter.listenerCount('success') > 0) this.emit('success', { requestId, deployment: d, attempts, latencyMs, stream: hold });
        // A stream's budget ends with its first event; the caller's hang-up still reaches it until it ends.
        if (hold) budget?.stopClock();
        else budget?.detach();
        return { value, deployment: d, attempts, latencyMs, state, permit, adapter, budget };
      }
    } catch (err) {
      budget?.detach();
      throw err;
    }
  }

  /**
   * Deployments that are up and not ruled out for this request. Returns `all` itself (no allocation)
   * in the common case where nothing is ruled out.
   */
  private eligible(all: readonly Deployment[], failed: Set<string> | undefined, busy: Deployment[] | undefined): readonly Deployment[] {
    let out: Deployment[] | undefined;
    for (let i = 0; i < all.length; i++) {
      const d = all[i]!;
      const ok = !(failed?.has(d.key) ?? false) && !(busy?.includes(d) ?? false) && this.isUp(d);
      if (ok) out?.push(d);
      else out ??= all.slice(0, i);
    }
    const list = out ?? all;
    // One number on the hot path: the filter runs only while some deployment is throttled.
    return this.throttledCount === 0 ? list : this.withoutThrottled(list);
  }

  /** The upstream asked for `ms` (a 429's Retry-After): the deployment is left aside that long while another can serve. */
  private throttle(s: DeploymentState, ms: number): void {
    if (s.throttledUntil === 0) this.throttledCount++;
    s.throttledUntil = this.now() + ms;
  }

  /** `list` without its throttled deployments, unless that leaves none; an expired throttle is ended here. */
  private withoutThrottled(list: readonly Deployment[]): readonly Deployment[] {
    const now = this.now();
    const open = list.filter((d) => {
      const s = this.states.get(d.key)!;
      if (s.throttledUntil !== 0 && s.throttledUntil <= now) {
        s.throttledUntil = 0;
        this.throttledCount--;
      }
      return s.throttledUntil === 0;
    });
    return open.length === 0 || open.length === list.length ? list : open;
  }

  private isUp(d: Deployment): boolean {
    const b = this.stateOf(d).breaker;
    if (!b.canPass()) return false;
    const ks = this.pool.keyState(d.model, d.provider);
    if (ks === undefined || ks.total === 0 || ks.unhealthy < ks.total) return true;
    // Every adapter unhealthy (a refused key, a failed health check): down while the circuit cools
    // down. After it, the half-open probe goes to a fresh adapter, checked as the pool makes it (a
    // full pool closes an unhealthy adapter to make room for a waiter) — else the deployment came
    // back only when cleanup retired the unhealthy ones (a minute), and each 503 meanwhile promised
    // it after the cooldown.
    // (canPass() said the cooldown is over: `open` turns `half_open` when the probe is let through.)
    return b.state !== 'closed';
  }

  /** The pool would turn a caller that does not wait away: nothing idle and no room to create. */
  private isFull(d: Deployment): boolean {
    const ks = this.pool.keyState(d.model, d.provider);
    return ks !== undefined && ks.available === 0 && ks.total + ks.creating >= ks.maxPoolSize;
  }

  private firstUp(list: readonly Deployment[]): Deployment | undefined {
    for (const d of list) if (this.isUp(d)) return d;
    return undefined;
  }

  private noDeployment(model: string, all: readonly Deployment[]): NoDeploymentAvailableError {
    let retryAfter = Infinity;
    const cooldown = this.config.circuitCooldownMs;
    for (const d of all) {
      const b = this.stateOf(d).breaker;
      // Circuit open: until it half-opens. All adapters unhealthy: until a health check could have run.
      const ms = b.state === 'closed' || b.canPass() ? cooldown : b.retryAfterMs();
      if (ms < retryAfter) retryAfter = ms;
    }
    if (!Number.isFinite(retryAfter)) retryAfter = cooldown;
    retryAfter = Math.max(1, retryAfter);
    const err =
      all.length === 0
        ? new NoDeploymentAvailableError(model, retryAfter, `no deployment is configured for ${model}`)
        : new NoDeploymentAvailableError(model, retryAfter, undefined, { detail: openCircuitReasons(all, this.states) });
    if (this.emitter.listenerCount('no_deployment') > 0) this.emit('no_deployment', { model, retryAfterMs: retryAfter });
    return err;
  }

  private stateOf(d: Deployment): DeploymentState {
    let s = this.states.get(d.key);
    if (s === undefined) {
      s = new DeploymentState(d, this.config, this.now, this.onCircuitChange);
      this.states.set(d.key, s);
      const held = this.pendingHolds.get(d.key);
      if (held !== undefined) {
        this.pendingHolds.delete(d.key);
        if (held > this.now()) s.breaker.hold(held - this.now());
      }
    }
    return s;
  }

  private pickersFor(route: Route): RoutePickers {
    let byName = this.strategies.get(route.name);
    if (byName === undefined) {
      byName = new Map();
      this.strategies.set(route.name, byName);
    }
    let s = byName.get(route.strategy);
    if (s === undefined) {
      s = { first: createStrategy(route.strategy, this.random), again: createStrategy(route.strategy, this.random) };
      byName.set(route.strategy, s);
    }
    return s;
  }

  /** The router's config with one call's own settings on top (cached per settings object). */
  private callConfig(settings: Partial<CallSettings>): RoutingConfig {
    let c = this.callConfigs.get(settings);
    if (c === undefined) {
      c = { ...this.config, ...definedOnly(settings) };
      this.callConfigs.set(settings, c);
    }
    return c;
  }

  /** Circuit fields passed to `executeStrategy` become those deployments' own settings. */
  private applyCircuit(deployments: readonly Deployment[], config: Partial<RoutingConfig>): void {
    let circuit = this.circuitConfigs.get(config);
    if (circuit === undefined) {
      const given = CIRCUIT_FIELDS.some((f) => config[f] !== undefined);
      circuit = given ? pickCircuit({ ...this.config, ...definedOnly(config) }) : null;
      this.circuitConfigs.set(config, circuit);
    }
    if (circuit === null) return;
    for (const d of deployments) this.stateOf(d).configure(circuit);
  }

  private async release(adapter: ChatAdapter, d: Deployment, broken = false): Promise<void> {
    try {
      await this.pool.releaseAdapter(adapter, d.model, d.provider, broken ? RELEASE_BROKEN : undefined);
    } catch (err) {
      this.logger?.error?.({ err, key: d.key }, 'router: releasing an adapter failed');
    }
  }

  private emit<E extends RouterEventName>(event: E, payload: RouterEvents[E]): void {
    try {
      this.emitter.emit(event, payload);
    } catch (err) {
      this.logger?.error?.({ err, event }, 'router: event listener threw');
    }
  }

  private emitFailover(requestId: string | undefined, from: Deployment, attempt: number, error: unknown, reason: RouterEvents['failover']['reason']): void {
    if (this.emitter.listenerCount('failover') > 0) this.emit('failover', { requestId, from, attempt, error, reason });
  }

  private readonly onCircuitChange = (s: DeploymentState, to: CircuitState, from: CircuitState): void => {
    const deployment = s.deployment;
    // Who opened it is decided anew at each opening (onPoolUnhealthy marks its own after the trip).
    if (to !== 'half_open') s.openedByHealthCheck = false;
    if (to === 'open') {
      const retryAfterMs = s.breaker.retryAfterMs();
      this.logger?.warn?.({ event: 'circuit_open', deployment: deployment.key, from, retryAfterMs, reason: s.lastFailure }, 'router: circuit open');
      this.emit('circuit_open', { deployment, retryAfterMs });
    } else if (to === 'half_open') {
      this.logger?.info?.({ event: 'circuit_half_open', deployment: deployment.key }, 'router: circuit half-open, probing');
      this.emit('circuit_half_open', { deployment });
    } else {
      this.logger?.info?.({ event: 'circuit_closed', deployment: deployment.key }, 'router: circuit closed');
      this.emit('circuit_close', { deployment });
    }
  };

  /** Active health: when the pool finds every adapter of a deployment unhealthy, open its circuit. */
  private readonly onPoolUnhealthy = (e: { key: string }): void => {
    const s = this.states.get(e.key);
    if (s === undefined) return;
    const ks = this.pool.keyState(s.deployment.model, s.deployment.provider);
    if (ks !== undefined && ks.total > 0 && ks.unhealthy >= ks.total) {
      // Unless a request's failure (a refused key) just opened it and reported the adapter broken.
      if (s.breaker.state !== 'open') s.lastFailure = s.lastFailureKind = 'every adapter failed its health check';
      s.breaker.trip();
      s.openedByHealthCheck = true;
    }
  };

  /** A health check passed again: let the next request probe without waiting out the cooldown. */
  private readonly onPoolRecovered = (e: { key: string }): void => {
    this.states.get(e.key)?.breaker.probeNow();
  };

  /**
   * The same for adapters that were never unhealthy themselves: after a cleanup replaced a dead
   * deployment's adapters, its new ones pass the next health check, but no `recovered` event comes.
   * Only for a circuit a health check opened (requests that failed are not disproved by one).
   */
  private readonly onHealthCheck = (e: { result: { pools: Record<string, { healthy: number }> } }): void => {
    for (const key in e.result.pools) {
      const s = this.states.get(key);
      if (s === undefined || !s.openedByHealthCheck || e.result.pools[key]!.healthy === 0) continue;
      s.openedByHealthCheck = false;
      s.breaker.probeNow();
    }
  };
}

/** How long a 429 without Retry-After keeps a deployment aside while others can serve. */
const THROTTLE_DEFAULT_MS = 1000;

const RELEASE_BROKEN = Object.freeze({ healthy: false });
/** The call options of a request without a signal: one shared object, no allocation per request. */
const NO_SIGNAL: CallOptions & AcquireOptions = Object.freeze({});
const NO_WAIT: AcquireOptions = Object.freeze({ timeoutMs: 0 });

/** Options of a no-wait acquire (the waiting one reuses the call's `{ signal }`). */
function acquireOptions(signal: AbortSignal | undefined, timeoutMs: number): AcquireOptions {
  if (signal === undefined) return timeoutMs === 0 ? NO_WAIT : { timeoutMs };
  return { signal, timeoutMs };
}

function backoffOptions(cfg: RoutingConfig): BackoffOptions {
  return { initialMs: cfg.retryBackoffInitialMs, maxMs: cfg.retryBackoffMaxMs, jitter: cfg.retryJitter, maxRetryAfterMs: cfg.maxRetryAfterMs };
}

