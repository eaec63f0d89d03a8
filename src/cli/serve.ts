import { parseArgs } from 'node:util';
import { ConfigError, defaultConfig, loadConfigFile, type GatewayConfig } from '../config/index.js';
import { PROVIDER_TYPES } from '../providers/registry.js';
import { buildGateway, createLogger, type Gateway } from '../server/index.js';
import { EXIT, UsageError } from './usage.js';

/** `serve [--config FILE] [--port N]`: run until SIGTERM/SIGINT, then shut down gracefully and exit 0. */
export async function serveCommand(args: readonly string[]): Promise<number> {
  const { values } = parse(args);
  const file = values.config ?? (process.env.ADAPTERPOOL_CONFIG || undefined);
  const port = values.port === undefined ? undefined : parsePort(values.port);

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
    gateway = await buildGateway(config, { logger });
    await gateway.listen(port === undefined ? {} : { port });
  } catch (err) {
    logger.fatal({ err }, err instanceof ConfigError ? err.message : 'the gateway could not start');
    return EXIT.failure;
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT.failure);
    }
    stopping = true;
    logger.info({ signal, timeoutMs: config.server.shutdownTimeout }, 'shutting down: finishing in-flight requests');
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
      options: { config: { type: 'string', short: 'c' }, port: { type: 'string', short: 'p' } },
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
