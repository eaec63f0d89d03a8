import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AcquireAbortedError,
  AcquireTimeoutError,
  CreateFailedError,
  TooManyWaitersError,
} from '../pool/errors.js';
import type { AcquireOptions, PoolLogger } from '../pool/types.js';
import { ProviderError, type ErrorAction } from '../providers/errors.js';
import type { CallOptions, ChatAdapter, ChatCompletionRequest } from '../providers/types.js';
import { retryDelay, type BackoffOptions } from './backoff.js';
import { Permit, type CircuitState } from './circuit-breaker.js';
import { DeploymentState } from './deployment-state.js';
import { LeasedStream, type StreamLease, type StreamOutcome } from './leased-stream.js';
import type { RouterPool } from './pool-port.js';
import { createStrategy, type DeploymentView, type RandomSource, type Strategy } from './strategies/index.js';
import {
  DEFAULT_ROUTING_CONFIG,
  type Deployment,
  type ExecuteOptions,
  type ExecuteResult,
  type RoutingConfig,
  type StrategyName,
} from './types.js';

/** Every deployment of a model is down (or busy past the wait): answer 503 with Retry-After at once. */
export class NoDeploymentAvailableError extends Error {
  override readonly name = 'NoDeploymentAvailableError';
  readonly status = 503;
  /** Until the earliest circuit half-opens (ms). */
  readonly retryAfterMs: number;
  readonly model: string;
  constructor(model: string, retryAfterMs: number, message?: string, options?: { cause?: unknown }) {
    super(message ?? `no deployment of ${model} is available; retry after ${Math.ceil(retryAfterMs / 1000)} s`, options);
    this.model = model;
    this.retryAfterMs = retryAfterMs;
  }
}

export interface RouterOptions {
  pool: RouterPool<ChatAdapter>;
  routing?: Partial<RoutingConfig>;
  logger?: PoolLogger;
  /** Injectable for tests: jitter and power-of-two-choices draws. */
  random?: RandomSource;
  /** Injectable for tests: the clock of circuits, budgets and latencies. */
  now?: () => number;
}

export interface DeploymentHealth {
  key: string;
  provider: string;
  model: string;
  circuit: CircuitState;
  consecutiveFailures: number;
  failureRate: number;
  ewmaLatencyMs: number | undefined;
  inFlight: number;
  openedAt?: number;
  retryAfterMs?: number;
}

/** Payloads of `Router.on(...)`, for metrics and logs. */
export interface RouterEvents {
  attempt: { requestId: string | undefined; deployment: Deployment; attempt: number };
  retry: { requestId: string | undefined; deployment: Deployment; attempt: number; delayMs: number; error: unknown };
  failover: { requestId: string | undefined; from: Deployment; attempt: number; error: unknown; reason: 'error' | 'busy' | 'circuit_open' };
  success: { requestId: string | undefined; deployment: Deployment; attempts: number; latencyMs: number; stream: boolean };
  circuit_open: { deployment: Deployment; retryAfterMs: number };
  circuit_half_open: { deployment: Deployment };
  circuit_close: { deployment: Deployment };
  no_deployment: { model: string; retryAfterMs: number };
}
export type RouterEventName = keyof RouterEvents;

/** An error that is not a ProviderError (a bug, or a transport we do not know): count it, fail over, do not retry. */
const UNKNOWN_ERROR_ACTION: ErrorAction = { retry: false, failover: true, cooldown: true, unhealthy: false };
/** Retry-After suggested when every deployment is only busy. */
const BUSY_RETRY_AFTER_MS = 1000;

/**
 * Picks a deployment per request with the model's strategy, borrows an adapter from its pool, calls
 * it, gives the adapter back; retries with backoff and fails over on retryable errors within a
 * budget; keeps a circuit per deployment fed by call outcomes (passive) and pool health events (active).
 */
export class Router {
  private readonly pool: RouterPool<ChatAdapter>;
  private readonly config: RoutingConfig;
  private readonly logger: PoolLogger | undefined;
  private readonly random: RandomSource;
  private readonly now: () => number;
  private readonly emitter = new EventEmitter();
  private readonly states = new Map<string, DeploymentState>();
  /** Strategy state per model group: by array identity (the server's config arrays), else by content. */
  private readonly groups = new WeakMap<readonly Deployment[], Map<StrategyName, Strategy>>();
  private readonly groupsByKey = new Map<string, Map<StrategyName, Strategy>>();
  private readonly configs = new WeakMap<Partial<RoutingConfig>, RoutingConfig>();
  private readonly view: DeploymentView;
  /** Shared-circuit holds for deployments this router has not made state for yet (deadline, clock of `now`). */
  private readonly pendingHolds = new Map<string, number>();
  private closed = false;

  constructor(opts: RouterOptions) {
    this.pool = opts.pool;
    this.config = { ...DEFAULT_ROUTING_CONFIG, ...opts.routing };
    this.logger = opts.logger;
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.view = {
      load: (d) => {
        const s = this.pool.keyState(d.model, d.provider);
        return s === undefined || s.maxPoolSize <= 0 ? 0 : s.inUse / s.maxPoolSize;
      },
      latencyMs: (d) => this.states.get(d.key)?.ewmaMs,
      inFlight: (d) => this.states.get(d.key)?.inFlight ?? 0,
    };
    this.pool.on('unhealthy', this.onPoolUnhealthy);
    this.pool.on('recovered', this.onPoolRecovered);
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
   * Serve one request from one of `modelProviders` using `strategy`. Resolves with the completion, or
   * with a stream whose first chunk already arrived. Rejects with the ProviderError that ended the
   * request (client errors at once, others once the budget or the deployments are exhausted), or
   * NoDeploymentAvailableError when every deployment is down (or busy past the wait).
   */
  async executeStrategy(
    request: ChatCompletionRequest,
    modelProviders: readonly Deployment[],
    strategy: StrategyName,
    config?: Partial<RoutingConfig>,
    options?: ExecuteOptions,
  ): Promise<ExecuteResult> {
    const cfg = config === undefined ? this.config : this.resolveConfig(config);
    const picker = this.strategyFor(modelProviders, strategy);
    const signal = options?.signal;
    const requestId = options?.requestId;
    const stream = request.stream === true;
    // One options object serves both the call and a waiting acquire (both only carry the signal).
    const callOpts: (CallOptions & AcquireOptions) | undefined = signal === undefined ? undefined : { signal };
    if (signal?.aborted) throw abortError(modelProviders[0]?.provider ?? 'router', signal.reason);

    const deadline = this.now() + cfg.requestTimeoutMs;
    let attempts = 0;
    let failed: Set<string> | undefined; // deployments this request gave up on
    let busy: Deployment[] | undefined; // deployments skipped because their pool was full
    let sticky: Deployment | undefined; // retry target after a backoff
    let perDeployment = 0;
    let previousDelay = 0;
    let lastError: unknown;

    for (;;) {
      // 1. Choose: the retry target, else the strategy's pick among deployments that are up, else wait on a busy one.
      let d: Deployment;
      let wait: boolean;
      if (sticky !== undefined) {
        d = sticky;
        sticky = undefined;
        // A busy pool is no reason to queue for a retry either while another deployment could serve.
        wait = !hasAlternative(this.eligible(modelProviders, cfg, failed, busy), d, picker.strictPriority);
      } else {
        const candidates = this.eligible(modelProviders, cfg, failed, busy);
        if (candidates.length > 0) {
          d = picker.pick(candidates, this.view);
          wait = !hasAlternative(candidates, d, picker.strictPriority);
          perDeployment = 0;
          previousDelay = 0;
        } else {
          const next = busy === undefined ? undefined : this.firstUp(busy, cfg);
          if (next === undefined) {
            if (lastError !== undefined) throw lastError;
            throw this.noDeployment(request.model, modelProviders, cfg);
          }
          busy!.splice(busy!.indexOf(next), 1);
          d = next;
          wait = true;
          perDeployment = 0;
          previousDelay = 0;
        }
      }
      const state = this.stateOf(d, cfg);
      const permit = state.breaker.tryAcquire();
      if (permit === Permit.Denied) {
        // Opened (or its probe went out) since we looked: treat as down for this request.
        (failed ??= new Set()).add(d.key);
        this.emitFailover(requestId, d, attempts, lastError, 'circuit_open');
        continue;
      }

      // 2. Borrow an adapter. Not an attempt yet: no upstream call was made.
      let adapter: ChatAdapter;
      try {
        adapter = await this.pool.getAdapter(d.model, d.provider, wait ? callOpts : acquireOptions(signal, cfg.fullPoolWaitMs));
      } catch (err) {
        if (signal?.aborted || err instanceof AcquireAbortedError) {
          state.breaker.onNeutral(permit);
          throw abortError(d.provider, signal?.reason ?? err);
        }
        if (err instanceof AcquireTimeoutError || err instanceof TooManyWaitersError) {
          state.breaker.onNeutral(permit);
          if (!wait) {
            (busy ??= []).push(d);
            this.emitFailover(requestId, d, attempts, err, 'busy');
            continue;
          }
          throw new NoDeploymentAvailableError(request.model, BUSY_RETRY_AFTER_MS, `every deployment of ${request.model} is busy: ${err.message}`, { cause: err });
        }
        if (err instanceof CreateFailedError) {
          // The pool could not build a client for the deployment: its fault, like a failed call.
          state.breaker.onFailure(permit);
          lastError = err;
          (failed ??= new Set()).add(d.key);
          this.emitFailover(requestId, d, attempts, err, 'error');
          continue;
        }
        state.breaker.onNeutral(permit);
        throw err; // pool closed, or a bug
      }

      // A permit granted while closed, then a wait in the pool queue during which the circuit opened:
      // do not add one more call to a deployment already known to be down.
      if (permit === Permit.Normal && state.breaker.state !== 'closed') {
        state.breaker.onNeutral(permit);
        void this.release(adapter, d); // settles synchronously; no microtask hop on the hot path
        (failed ??= new Set()).add(d.key);
        this.emitFailover(requestId, d, attempts, lastError, 'circuit_open');
        continue;
      }

      // 3. Call it.
      attempts++;
      perDeployment++;
      if (this.emitter.listenerCount('attempt') > 0) this.emit('attempt', { requestId, deployment: d, attempt: attempts });
      state.inFlight++;
      const started = this.now();
      try {
        if (stream) {
          const s = await adapter.chatCompletionStream(request, callOpts);
          let peek: Awaited<ReturnType<typeof LeasedStream.peek>>;
          try {
            peek = await LeasedStream.peek(s);
          } catch (err) {
            s.cancel();
            throw err;
          }
          const latency = this.now() - started;
          state.observeLatency(latency);
          if (this.emitter.listenerCount('success') > 0) this.emit('success', { requestId, deployment: d, attempts, latencyMs: latency, stream });
          // From here bytes may reach the client: no more retries. The lease ends with the stream.
          const lease = new RouterStreamLease(this, state, adapter, permit);
          return { kind: 'stream', stream: new LeasedStream(s, peek.frames, peek.peeked, peek.done, lease), deployment: d, attempts };
        }
        const completion = await adapter.chatCompletion(request, callOpts);
        const latency = this.now() - started;
        state.inFlight--;
        state.observeLatency(latency);
        state.breaker.onSuccess(permit);
        void this.release(adapter, d); // settles synchronously; no microtask hop on the hot path
        if (this.emitter.listenerCount('success') > 0) this.emit('success', { requestId, deployment: d, attempts, latencyMs: latency, stream });
        return { kind: 'completion', completion, deployment: d, attempts };
      } catch (err) {
        state.inFlight--;
        // Auth / quota failures say the adapter (its key) is broken: the pool stops lending it until a check passes.
        await this.release(adapter, d, err instanceof ProviderError && err.action.unhealthy);

        // 4. Decide: give up, retry here after a backoff, or fail over.
        if (signal?.aborted || (err instanceof ProviderError && err.errorClass === 'aborted')) {
          state.breaker.onNeutral(permit);
          throw err instanceof ProviderError ? err : abortError(d.provider, signal?.reason ?? err);
        }
        const action = err instanceof ProviderError ? err.action : UNKNOWN_ERROR_ACTION;
        if (!action.retry && !action.failover) {
          state.breaker.onNeutral(permit); // the caller's fault, not the deployment's
          throw err;
        }
        if (action.cooldown) state.breaker.onFailure(permit);
        else state.breaker.onNeutral(permit);
        if (action.unhealthy) state.breaker.trip();
        lastError = err;
        if (attempts >= cfg.maxAttempts || this.now() >= deadline) throw err;

        if (action.retry && perDeployment < cfg.maxAttemptsPerDeployment && state.breaker.canPass()) {
          const retryAfter = err instanceof ProviderError ? err.retryAfterMs : undefined;
          const delay = retryDelay(perDeployment, previousDelay, retryAfter, backoffOptions(cfg), this.random);
          if (delay !== undefined && this.now() + delay < deadline) {
            if (this.emitter.listenerCount('retry') > 0) this.emit('retry', { requestId, deployment: d, attempt: attempts, delayMs: delay, error: err });
            try {
              await sleep(delay, undefined, signal === undefined ? undefined : { signal });
            } catch (sleepErr) {
              throw abortError(d.provider, signal?.reason ?? sleepErr);
            }
            previousDelay = delay;
            sticky = d;
            continue;
          }
        }
        if (!action.failover) throw err;
        (failed ??= new Set()).add(d.key);
        this.emitFailover(requestId, d, attempts, err, 'error');
      }
    }
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
    this.emitter.removeAllListeners();
  }

  /** @internal Called once by a stream's lease when it ends. */
  async endStream(state: DeploymentState, adapter: ChatAdapter, permit: Permit, outcome: StreamOutcome, error: unknown): Promise<void> {
    state.inFlight--;
    if (outcome === 'ok') state.breaker.onSuccess(permit);
    else if (outcome === 'error' && error instanceof ProviderError && error.errorClass !== 'aborted') {
      // A mid-stream failure is the deployment's fault even though the client already got bytes.
      if (error.action.cooldown) state.breaker.onFailure(permit);
      else state.breaker.onNeutral(permit);
      if (error.action.unhealthy) state.breaker.trip();
    } else if (outcome === 'error' && !(error instanceof ProviderError)) state.breaker.onFailure(permit);
    else state.breaker.onNeutral(permit);
    await this.release(adapter, state.deployment, outcome === 'error' && error instanceof ProviderError && error.action.unhealthy);
  }

  // --- internals -------------------------------------------------------------------------------

  /**
   * Deployments that are up and not ruled out for this request. Returns `all` itself (no allocation)
   * in the common case where nothing is ruled out.
   */
  private eligible(all: readonly Deployment[], cfg: RoutingConfig, failed: Set<string> | undefined, busy: Deployment[] | undefined): readonly Deployment[] {
    let out: Deployment[] | undefined;
    for (let i = 0; i < all.length; i++) {
      const d = all[i]!;
      const ok = !(failed?.has(d.key) ?? false) && !(busy?.includes(d) ?? false) && this.isUp(d, cfg);
      if (ok) out?.push(d);
      else out ??= all.slice(0, i);
    }
    return out ?? all;
  }

  private isUp(d: Deployment, cfg: RoutingConfig): boolean {
    if (!this.stateOf(d, cfg).breaker.canPass()) return false;
    const ks = this.pool.keyState(d.model, d.provider);
    return ks === undefined || ks.total === 0 || ks.unhealthy < ks.total;
  }

  private firstUp(list: readonly Deployment[], cfg: RoutingConfig): Deployment | undefined {
    for (const d of list) if (this.isUp(d, cfg)) return d;
    return undefined;
  }

  private noDeployment(model: string, all: readonly Deployment[], cfg: RoutingConfig): NoDeploymentAvailableError {
    let retryAfter = Infinity;
    for (const d of all) {
      const b = this.stateOf(d, cfg).breaker;
      // Circuit open: until it half-opens. All adapters unhealthy: until a health check could have run.
      const ms = b.state === 'closed' || b.canPass() ? cfg.circuitCooldownMs : b.retryAfterMs();
      if (ms < retryAfter) retryAfter = ms;
    }
    if (!Number.isFinite(retryAfter)) retryAfter = cfg.circuitCooldownMs;
    retryAfter = Math.max(1, retryAfter);
    const err = new NoDeploymentAvailableError(model, retryAfter, all.length === 0 ? `no deployment is configured for ${model}` : undefined);
    if (this.emitter.listenerCount('no_deployment') > 0) this.emit('no_deployment', { model, retryAfterMs: retryAfter });
    return err;
  }

  private stateOf(d: Deployment, cfg: RoutingConfig): DeploymentState {
    let s = this.states.get(d.key);
    if (s === undefined) {
      s = new DeploymentState(d, cfg, this.now, this.onCircuitChange);
      this.states.set(d.key, s);
      const held = this.pendingHolds.get(d.key);
      if (held !== undefined) {
        this.pendingHolds.delete(d.key);
        if (held > this.now()) s.breaker.hold(held - this.now());
      }
    }
    return s;
  }

  private strategyFor(group: readonly Deployment[], name: StrategyName): Strategy {
    let byName = this.groups.get(group);
    if (byName === undefined) {
      // A new array (per request, or a reloaded config): find the group by its content.
      const key = group.map((d) => d.key).join('\u0000');
      byName = this.groupsByKey.get(key);
      if (byName === undefined) {
        byName = new Map();
        this.groupsByKey.set(key, byName);
      }
      this.groups.set(group, byName);
    }
    let s = byName.get(name);
    if (s === undefined) {
      s = createStrategy(name, this.random);
      byName.set(name, s);
    }
    return s;
  }

  private resolveConfig(partial: Partial<RoutingConfig>): RoutingConfig {
    let c = this.configs.get(partial);
    if (c === undefined) {
      c = { ...this.config, ...partial };
      this.configs.set(partial, c);
    }
    return c;
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
    if (to === 'open') {
      const retryAfterMs = s.breaker.retryAfterMs();
      this.logger?.warn?.({ key: deployment.key, from, retryAfterMs }, 'router: circuit open');
      this.emit('circuit_open', { deployment, retryAfterMs });
    } else if (to === 'half_open') {
      this.logger?.info?.({ key: deployment.key }, 'router: circuit half-open, probing');
      this.emit('circuit_half_open', { deployment });
    } else {
      this.logger?.info?.({ key: deployment.key }, 'router: circuit closed');
      this.emit('circuit_close', { deployment });
    }
  };

  /** Active health: when the pool finds every adapter of a deployment unhealthy, open its circuit. */
  private readonly onPoolUnhealthy = (e: { key: string }): void => {
    const s = this.states.get(e.key);
    if (s === undefined) return;
    const ks = this.pool.keyState(s.deployment.model, s.deployment.provider);
    if (ks !== undefined && ks.total > 0 && ks.unhealthy >= ks.total) s.breaker.trip();
  };

  /** A health check passed again: let the next request probe without waiting out the cooldown. */
  private readonly onPoolRecovered = (e: { key: string }): void => {
    this.states.get(e.key)?.breaker.probeNow();
  };
}

/** Gives a stream's adapter back through the router when the stream ends. */
class RouterStreamLease implements StreamLease {
  constructor(
    private readonly router: Router,
    private readonly state: DeploymentState,
    private readonly adapter: ChatAdapter,
    private readonly permit: Permit,
  ) {}

  end(outcome: StreamOutcome, error: unknown): Promise<void> {
    return this.router.endStream(this.state, this.adapter, this.permit, outcome, error);
  }
}

function hasAlternative(candidates: readonly Deployment[], d: Deployment, strictPriority: boolean): boolean {
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (c !== d && (!strictPriority || c.priority <= d.priority)) return true;
  }
  return false;
}

const RELEASE_BROKEN = Object.freeze({ healthy: false });
const NO_WAIT: AcquireOptions = Object.freeze({ timeoutMs: 0 });

/** Options of a no-wait acquire (the waiting one reuses the call's `{ signal }`). */
function acquireOptions(signal: AbortSignal | undefined, timeoutMs: number): AcquireOptions {
  if (signal === undefined) return timeoutMs === 0 ? NO_WAIT : { timeoutMs };
  return { signal, timeoutMs };
}

function backoffOptions(cfg: RoutingConfig): BackoffOptions {
  return { initialMs: cfg.retryBackoffInitialMs, maxMs: cfg.retryBackoffMaxMs, jitter: cfg.retryJitter, maxRetryAfterMs: cfg.maxRetryAfterMs };
}

function abortError(provider: string, cause: unknown): ProviderError {
  return new ProviderError({ provider, status: 499, errorClass: 'aborted', message: 'the client closed the request', cause });
}

