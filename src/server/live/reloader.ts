import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { applyOverrides, ConfigError, formatIssue, loadConfigFile, type ConfigOverrides, type GatewayConfig } from '../../config/index.js';
import { compactChanges, diffConfig, isEmptyChange, keyLimits, pinRestartSettings, poolTotalProblem, type ConfigChanges } from '../../config/diff.js';
import { KeyRemovedError, poolKey, type AdapterPool } from '../../pool/index.js';
import type { PoolKey, PoolLimits } from '../../pool/types.js';
import type { ChatAdapter } from '../../providers/types.js';
import { PROVIDER_TYPES } from '../../providers/registry.js';
import { checkProviders, providerCheck, type AdapterFactory } from '../check-providers.js';
import { buildSnapshot, type ConfigHolder, type GatewaySnapshot } from './snapshot.js';

/** What the reloader needs of the pool: keys added, resized, renewed and drained while it lends. */
export type ReloadablePool = Pick<AdapterPool<ChatAdapter>, 'addKey' | 'setKeyOptions' | 'renewKey' | 'removeKey' | 'keyState' | 'on' | 'off'>;

export type ReloadTrigger = 'sighup' | 'endpoint' | 'watch' | 'api';

export type ReloadResult =
  | { ok: true; version: number; changed: ConfigChanges; unchanged: boolean }
  | { ok: false; reason: string; error: unknown };

export interface ReloaderOptions {
  holder: ConfigHolder;
  pool: ReloadablePool;
  logger: Logger;
  /** The file the config came from; without one, reloads are refused. */
  file: string | undefined;
  /** Variables for `${VAR}` (default `process.env`, read at each reload). */
  env?: NodeJS.ProcessEnv;
  /** Command-line settings that win over the file's at each reload. */
  overrides?: ConfigOverrides;
  factory: AdapterFactory;
  /** Where the server listens (a changed `server.host` needs a restart). */
  host: string;
  /** Registry for `adapterpool_config_reloads_total`. */
  registry?: Registry;
  /** Runs before the pools change: parts that count the pools' events (metrics) learn the new pool keys first. */
  beforePools?: (next: GatewaySnapshot) => void;
  /** Gateway parts outside the pool (router, metrics, logger, HTTP server) take the new config; runs just before the swap. */
  beforeSwap?: (next: GatewaySnapshot, prev: GatewaySnapshot, changes: ConfigChanges) => void;
  /** A removed key's pool is gone (its last request finished): parts that keep per-deployment state let it go. */
  afterDrain?: (key: string) => void;
}

/**
 * Loads the config file again and applies it: an invalid file changes nothing; a valid one changes the
 * pools (new keys warmed, changed limits applied, keys of changed providers renewed), swaps the
 * snapshot, then drains removed keys once no request that may use them is left. One reload at a time.
 */
export class ConfigReloader {
  readonly file: string | undefined;
  private readonly o: ReloaderOptions;
  /** The reloader's own log (component "config"). */
  readonly logger: Logger;
  private readonly counter: Counter<'result'> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly draining = new Map<string, Promise<void>>();
  private closed = false;
  /** The snapshot a reload is about to swap in (while its new pools warm up). */
  private incoming: GatewaySnapshot | undefined;
  private readonly listeners: Array<(next: GatewaySnapshot, prev: GatewaySnapshot) => void> = [];

  constructor(opts: ReloaderOptions) {
    this.o = opts;
    this.file = opts.file;
    this.logger = opts.logger.child({ component: 'config' });
    if (opts.registry !== undefined) {
      this.counter = new Counter({
        name: 'adapterpool_config_reloads_total',
        help: 'Config reloads by result: success (applied, or nothing changed) | failure (invalid config: nothing changed).',
        labelNames: ['result'],
        registers: [opts.registry],
      });
      this.counter.labels('success').inc(0);
      this.counter.labels('failure').inc(0);
    }
  }

  /** Read the config file again and apply it. */
  reload(trigger: ReloadTrigger): Promise<ReloadResult> {
    return this.serial(async () => {
      let candidate: GatewayConfig;
      try {
        if (this.file === undefined) throw new Error('the gateway runs on the built-in default config (no --config file): nothing to reload');
        // The start's checks, provider builds included, so each error carries its file:line.
        const loaded = await loadConfigFile(this.file, { providerTypes: PROVIDER_TYPES, checkProvider: providerCheck(this.o.factory), env: this.o.env ?? process.env });
        candidate = applyOverrides(loaded, this.o.overrides);
      } catch (err) {
        return this.failed(trigger, err);
      }
      return this.applyNow(candidate, trigger);
    });
  }

  /** Apply a config that was parsed elsewhere (library users, tests). */
  apply(candidate: GatewayConfig, trigger: ReloadTrigger = 'api'): Promise<ReloadResult> {
    return this.serial(() => this.applyNow(candidate, trigger));
  }

  /** Removals still draining (tests and shutdown wait on these). */
  async drained(): Promise<void> {
    while (this.draining.size > 0) await Promise.all(this.draining.values());
  }

  /** Call `fn` after each reload that swapped in a new config (the CLI re-arms its file watcher). */
  onApplied(fn: (next: GatewaySnapshot, prev: GatewaySnapshot) => void): void {
    this.listeners.push(fn);
  }

  close(): void {
    this.closed = true;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(candidate: GatewayConfig, trigger: ReloadTrigger): Promise<ReloadResult> {
    const { holder, pool } = this.o;
    const prev = holder.current;
    let changes: ConfigChanges;
    let running: GatewayConfig;
    try {
      changes = diffConfig(prev.config, candidate);
      running = pinRestartSettings(prev.config, candidate, changes.restartRequired);
      // A provider the registry cannot build (missing baseUrl or key) fails here, with its name.
      checkProviders(running, this.o.factory, this.logger);
      checkTotal(running);
    } catch (err) {
      return this.failed(trigger, err);
    }
    if (changes.restartRequired.length > 0) {
      this.logger.warn({ event: 'config_restart_required', settings: changes.restartRequired, trigger }, `config: ${changes.restartRequired.join(', ')} need a restart; the running values are kept`);
    }
    if (isEmptyChange(changes) || isDeepStrictEqual(running, prev.config)) {
      this.counter?.labels('success').inc();
      this.logger.info({ event: 'config_reloaded', version: prev.version, trigger, changed: compactChanges(changes) }, 'config reloaded: nothing to apply');
      return { ok: true, version: prev.version, changed: changes, unchanged: true };
    }

    const next = buildSnapshot(running, prev.version + 1, this.o.host, prev);
    const limits = keyLimits(running);
    const keyOf = (key: string): PoolKey => {
      for (const r of next.routes.values()) for (const d of r.deployments) if (d.key === key) return { model: d.model, provider: d.provider };
      throw new Error(`no deployment for pool ${key}`);
    };
    this.o.beforePools?.(next);
    // New adapters are built from the new provider settings from here on.
    holder.providers = next.providers;
    for (const key of changes.pools.renewed) {
      const k = keyOf(key);
      pool.renewKey(k.model, k.provider);
    }
    for (const key of changes.pools.resized) {
      const k = keyOf(key);
      pool.setKeyOptions(k.model, k.provider, limits.get(key)!);
    }
    // Added keys serve at once: their minimum is warm before the first request can pick them. A key
    // added back while its removal still waits for old requests stays: the drain skips `incoming`'s keys.
    this.incoming = next;
    try {
      await Promise.all(changes.pools.added.map((key) => this.addKey(keyOf(key), limits.get(key)!)));
      this.o.beforeSwap?.(next, prev, changes);
      holder.swap(next);
    } finally {
      this.incoming = undefined;
    }
    for (const fn of this.listeners) {
      try {
        fn(next, prev);
      } catch (err) {
        this.logger.error({ event: 'config_listener_failed', err }, 'config: a reload listener threw');
      }
    }
    for (const key of changes.pools.removed) this.drainKey(key, prev);

    this.counter?.labels('success').inc();
    // At warn when the new logging.level hides info lines: a reload that raised the level still says it applied.
    const line = { event: 'config_reloaded', version: next.version, trigger, changed: compactChanges(changes) };
    if (this.logger.isLevelEnabled('info')) this.logger.info(line, `config reloaded (version ${next.version})`);
    else this.logger.warn(line, `config reloaded (version ${next.version})`);
    return { ok: true, version: next.version, changed: changes, unchanged: false };
  }

  /**
   * Close a removed key's adapters once no request can reach it: none on a snapshot that routes to it
   * (requests finish on the config they started with, streams included). A key added back meanwhile stays.
   */
  private drainKey(key: string, prev: GatewaySnapshot): void {
    if (this.draining.has(key)) return;
    let pair: PoolKey | undefined;
    for (const r of prev.routes.values()) for (const d of r.deployments) if (d.key === key) pair = { model: d.model, provider: d.provider };
    if (pair === undefined) return;
    const k = pair;
    const { holder, pool } = this.o;
    const run = (async () => {
      // `ms` on the line counts from the reload that removed it: the wait for its requests in flight included.
      const removedAt = Date.now();
      for (;;) {
        if (this.closed || holder.current.poolKeys.has(key) || this.incoming?.poolKeys.has(key)) return;
        const users = holder.inUse().filter((s) => s.poolKeys.has(key));
        if (users.length === 0) break;
        await holder.nextIdle();
      }
      const closing = Date.now();
      await pool.removeKey(k.model, k.provider);
      this.o.afterDrain?.(key);
      const now = Date.now();
      this.logger.info({ event: 'deployment_pool_removed', key, ms: now - removedAt, closeMs: now - closing }, `deployment pool ${key} removed: in-flight requests finished, its adapters are closed`);
    })()
      .catch((err: unknown) => this.logger.error({ event: 'deployment_pool_drain_failed', err, key }, `config: draining pool ${key} failed`))
      .finally(() => this.draining.delete(key));
    this.draining.set(key, run);
  }

  /** Add a key (waiting out the end of its previous removal, if one is finishing) and warm its minimum. */
  private async addKey(key: PoolKey, limits: PoolLimits): Promise<void> {
    const { pool } = this.o;
    try {
      try {
        pool.addKey(key, limits);
      } catch (err) {
        if (!(err instanceof KeyRemovedError)) throw err;
        await pool.removeKey(key.model, key.provider); // resolves when its last adapter has closed
        pool.addKey(key, limits);
      }
      await warm(pool, key, limits.minPoolSize);
    } catch (err) {
      this.logger.warn({ event: 'deployment_pool_warm_failed', err, key: poolKey(key.model, key.provider) }, 'config: warming a new pool failed; it fills on demand');
    }
  }

  private failed(trigger: ReloadTrigger, err: unknown): ReloadResult {
    const reason = reasonOf(err);
    this.counter?.labels('failure').inc();
    // Logged once here, with file and line; the caller only relays it.
    this.logger.error({ event: 'config_reload_failed', trigger, file: this.file }, `config reload failed, the running config stays: ${reason}`);
    return { ok: false, reason, error: err };
  }
}

/** One line: every issue as `file:line:col: path: message`. */
function reasonOf(err: unknown): string {
  if (err instanceof ConfigError) return err.issues.map((i) => formatIssue(err.source, i)).join('; ');
  return err instanceof Error ? err.message : String(err);
}

/**
 * The pool refuses keys whose minimums exceed `maxTotal`; say so before anything changes. The file's
 * own parse checks this too, but `maxTotal` needs a restart: the running one is kept (pinned).
 */
function checkTotal(config: GatewayConfig): void {
  const problem = poolTotalProblem(config);
  if (problem !== undefined) throw new ConfigError('config', [{ path: 'pool.maxTotal', message: problem }]);
}

/**
 * Resolves once the key has its minimum, or has no create under way (the rest failed and is left to
 * the pool's retry). Not "no create under way" alone: under traffic a new pool may keep growing.
 */
function warm(pool: ReloadablePool, key: PoolKey, min: number): Promise<void> {
  const ready = () => {
    const s = pool.keyState(key.model, key.provider);
    return s === undefined || s.total >= min || s.creating === 0;
  };
  if (ready()) return Promise.resolve();
  const name = poolKey(key.model, key.provider);
  return new Promise((resolve) => {
    const check = (e: { key: string }) => {
      if (e.key !== name || !ready()) return;
      pool.off('created', check);
      pool.off('createFailed', check);
      resolve();
    };
    pool.on('created', check);
    pool.on('createFailed', check);
  });
}
