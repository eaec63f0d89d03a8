import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { applyOverrides, ConfigError, ConfigWatcher, defaultConfig, LOG_FORMATS, type ConfigOverrides, type GatewayConfig } from '../config/index.js';
import { buildGateway, createLogger, type Gateway, type LogFormat } from '../server/index.js';
import { loadConfigForCli } from './load.js';
import { EXIT, UsageError } from './usage.js';

/**
 * `serve [--config FILE] [--port N] [--watch] [--log-format F]`: run until SIGTERM/SIGINT, then shut
 * down gracefully and exit 0. SIGHUP (and, with --watch or `server.watchConfig`, a change of FILE)
 * reloads the config.
 */
export async function serveCommand(args: readonly string[]): Promise<number> {
  const { values } = parse(args);
  const file = values.config ?? (process.env.ADAPTERPOOL_CONFIG || undefined);
  const port = values.port === undefined ? undefined : parsePort(values.port);
  const format = values['log-format'] === undefined ? undefined : parseFormat(values['log-format']);
  if (values.watch === true && file === undefined) throw new UsageError('--watch needs a config file (--config FILE or $ADAPTERPOOL_CONFIG)');

  const config: GatewayConfig | undefined = file === undefined ? defaultConfig() : await loadConfigForCli(file);
  if (config === undefined) return EXIT.failure;

  const overrides: ConfigOverrides = { ...(port === undefined ? {} : { port }), ...(format === undefined ? {} : { logFormat: format }), ...(values.watch === true ? { watch: true as const } : {}) };
  const logging = applyOverrides(config, overrides).logging;
  const logger = createLogger(logging.level, undefined, { format: logging.format, flushIntervalMs: logging.flushInterval });
  const models = Object.keys(config.models);
  if (file === undefined) {
    logger.info({ event: 'config_loaded', models }, 'no config file given: using the built-in default config (mock provider, demo models)');
  } else {
    logger.info({ event: 'config_loaded', config: file, models }, `using config file ${file}`);
  }

  let gateway: Gateway | undefined;
  try {
    gateway = await buildGateway(config, file === undefined ? { logger, overrides } : { logger, configFile: file, overrides });
    await gateway.listen();
  } catch (err) {
    await gateway?.close(0).catch(() => {});
    // The start-up log lines first (they wait in the log's queue), then the reason, last on screen.
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    // Readable lines on stderr, no JSON and no stack: these are the operator's to fix, not bugs.
    process.stderr.write(`adapterpool: ${startFailure(err, config, port)}\n`);
    return EXIT.failure;
  }

  const running = gateway;
  // Reload triggers. The reloader logs each outcome (once, with file and line on failure).
  const reload = (trigger: 'sighup' | 'watch') => void running.reload(trigger);
  let stopping = false;
  const onHangup = () => {
    if (stopping) {
      logger.warn({ event: 'config_reload_ignored', signal: 'SIGHUP' }, 'SIGHUP during shutdown: ignored, in-flight requests are finishing');
      return;
    }
    logger.info({ event: 'config_reload_requested', signal: 'SIGHUP' }, 'SIGHUP: reloading the config');
    reload('sighup');
  };
  process.on('SIGHUP', onHangup);
  let watcher: ConfigWatcher | undefined;
  const rewatch = (c: GatewayConfig) => {
    const want = file !== undefined && (values.watch === true || c.server.watchConfig);
    if (!want) {
      if (watcher !== undefined) logger.info({ event: 'config_watch_stopped', config: file }, 'no longer watching the config file');
      watcher?.close();
      watcher = undefined;
      return;
    }
    if (watcher !== undefined) {
      if (watcher.debounceMs !== c.server.reloadDebounce) logger.info({ event: 'config_watch_debounce', config: file, debounceMs: c.server.reloadDebounce }, 'config file watch: new debounce');
      watcher.debounceMs = c.server.reloadDebounce;
      return;
    }
    const w = new ConfigWatcher({
      file: file!,
      debounceMs: c.server.reloadDebounce,
      onChange: () => {
        logger.info({ event: 'config_reload_requested', config: file }, 'config file changed: reloading');
        reload('watch');
      },
      onError: (err) => logger.warn({ event: 'config_watch_failed', err, config: file }, 'watching the config file failed'),
    });
    watcher = w;
    w.start().then(
      () => logger.info({ event: 'config_watch_started', config: file, debounceMs: c.server.reloadDebounce }, `watching ${file} for changes`),
      (err: unknown) => logger.warn({ event: 'config_watch_failed', err, config: file }, 'could not watch the config file'),
    );
  };
  rewatch(config);
  running.reloader.onApplied((next) => rewatch(next.config));

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // `process.on`, not `once`: a second signal must reach this line, not Node's default (exit 143, no log).
      logger.warn({ event: 'shutdown_forced', signal }, 'second signal: exiting now');
      exitAfterFlush(logger, EXIT.failure);
      return;
    }
    stopping = true;
    watcher?.close();
    // The SIGHUP listener stays: without one, Node's default for SIGHUP kills the process mid-drain
    // (a reloader sidecar or `systemctl reload` during a rolling restart dropped every request in flight).
    logger.info({ event: 'shutdown_started', signal, timeoutMs: running.config.server.shutdownTimeout }, 'shutting down: finishing in-flight requests');
    running.close().then(
      () => {
        logger.info({ event: 'shutdown_done' }, 'shut down cleanly');
        exitAfterFlush(logger, EXIT.ok);
      },
      (err: unknown) => {
        logger.error({ event: 'shutdown_failed', err }, 'shutdown failed');
        exitAfterFlush(logger, EXIT.failure);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return EXIT.running;
}

/** One line saying why the gateway could not start. */
function startFailure(err: unknown, config: GatewayConfig, port: number | undefined): string {
  if (err instanceof ConfigError) return err.message;
  const address = `${config.server.host}:${port ?? config.server.port}`;
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return `cannot listen on ${address}: the port is already in use (stop the other process, or set server.port / --port)`;
    case 'EACCES':
      return `cannot listen on ${address}: permission denied (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${address}: no such address on this machine (check server.host)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${address}: the host name does not resolve (check server.host)`;
    default:
      return `the gateway could not start: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Exit once the logger wrote its last lines (an asynchronous destination may still hold them). */
function exitAfterFlush(logger: Logger, code: number): void {
  const exit = () => process.exit(code);
  setTimeout(exit, 1000).unref();
  try {
    logger.flush(exit);
  } catch {
    exit();
  }
}

function parse(args: readonly string[]) {
  try {
    return parseArgs({
      args: [...args],
      options: {
        config: { type: 'string', short: 'c' },
        port: { type: 'string', short: 'p' },
        watch: { type: 'boolean', short: 'w' },
        'log-format': { type: 'string' },
      },
      allowPositionals: false,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) throw new UsageError(`--port must be 0..65535, got "${text}"`);
  return port;
}

function parseFormat(text: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(text)) throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(', ')}, got "${text}"`);
  return text as LogFormat;
}
