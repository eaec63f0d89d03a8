import { ConfigError, loadConfigFile, type GatewayConfig } from '../config/index.js';
import { PROVIDER_TYPES } from '../providers/registry.js';
import { providerCheck } from '../server/index.js';

/**
 * Load FILE with every check the gateway makes at start (schema, provider types, each provider
 * buildable), so `check-config` and `serve` report the same errors, all at once, as `FILE:line`.
 * A bad config is printed to stderr as readable lines and gives `undefined`.
 */
export async function loadConfigForCli(file: string): Promise<GatewayConfig | undefined> {
  try {
    return await loadConfigFile(file, { providerTypes: PROVIDER_TYPES, checkProvider: providerCheck() });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return undefined;
  }
}
