import { parseArgs } from 'node:util';
import { ConfigError, ConfigWatcher, defaultConfig, loadConfigFile, type GatewayConfig } from '../config/index.js';
import { PROVIDER_TYPES } from '../providers/registry.js';
import { buildGateway, createLogger, type Gateway } from '../server/index.js';
import { EXIT, UsageError } from './usage.js';

/**
 * `serve [--config FILE] [--port N] [--watch]`: run until SIGTERM/SIGINT, then shut down gracefully
 * and exit 0. SIGHUP (and, with --watch or `server.watchConfig`, a change of FILE) reloads the config.
 */
export async function serveCommand(args: readonly string[]): Promise<number> {
  const { values } = parse(args);
  const file = values.config ?? (process.env.ADAPTERPOOL_CONFIG || undefined);
  const port = values.port === undefined ? undefined : parsePort(values.port);
  if (values.watch === true && file === undefined) throw new UsageError('--watch needs a config file (--config FILE or $ADAPTERPOOL_CONFIG)');

  let config: GatewayConfig;
  try {
    config = file === undefined ? defaultConfig() : await loadConfigFile(file, { providerTypes: PROVIDER_TYPES });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return EXIT.failure;
  }

  const logger = createLogger(config.logging.level);
  const models = Object.keys(config.models);
  if (file === undefined) {
    logger.info({ models }, 'no config file given: using the built-in default config (mock provider, demo models)');
  } else {
    logger.info({ config: file, models }, `using config file ${file}`);
  }

  let gateway: Gateway;
  try {
    gateway = await buildGateway(config, file === undefined ? { logger } : { logger, configFile: file });
    await gateway.listen(port === undefined ? {} : { port });
  } catch (err) {
    logger.fatal({ err }, err instanceof ConfigError ? err.message : 'the gateway could not start');
    return EXIT.failure;
  }

  // Reload triggers. The reloader logs each outcome (once, with file and line on failure).
  const reload = (trigger: 'sighup' | 'watch') => void gateway.reload(trigger);
  const onHangup = () => {
    logger.info({ signal: 'SIGHUP' }, 'SIGHUP: reloading the config');
    reload('sighup');
  };
  process.on('SIGHUP', onHangup);
  let watcher: ConfigWatcher | undefined;
  const rewatch = (c: GatewayConfig) => {
    const want = file !== undefined && (values.watch === true || c.server.watchConfig);
    if (!want) {
      if (watcher !== undefined) logger.info({ config: file }, 'no longer watching the config file');
      watcher?.close();
      watcher = undefined;
      return;
    }
    if (watcher !== undefined) return;
    const w = new ConfigWatcher({
      file: file!,
      debounceMs: c.server.reloadDebounce,
      onChange: () => {
        logger.info({ config: file }, 'config file changed: reloading');
        reload('watch');
      },
      onError: (err) => logger.warn({ err, config: file }, 'watching the config file failed'),
    });
    watcher = w;
    w.start().then(
      () => logger.info({ config: file, debounceMs: c.server.reloadDebounce }, `watching ${file} for changes`),
      (err: unknown) => logger.warn({ err, config: file }, 'could not watch the config file'),
    );
  };
  rewatch(config);
  gateway.reloader.onApplied((next) => rewatch(next.config));

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT.failure);
    }
    stopping = true;
    watcher?.close();
    process.off('SIGHUP', onHangup);
    logger.info({ signal, timeoutMs: gateway.config.server.shutdownTimeout }, 'shutting down: finishing in-flight requests');
    gateway.close().then(
      () => {
        logger.info('shut down cleanly');
        process.exit(EXIT.ok);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(EXIT.failure);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return EXIT.running;
}

function parse(args: readonly string[]) {
  try {
    return parseArgs({
      args: [...args],
      options: { config: { type: 'string', short: 'c' }, port: { type: 'string', short: 'p' }, watch: { type: 'boolean', short: 'w' } },
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
