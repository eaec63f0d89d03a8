import assert from 'node:assert/strict';
import { ConfigError, parseConfig, type ProviderCheck } from '../../src/config/index.js';
import { PROVIDER_TYPES } from '../../src/providers/registry.js';
import { providerCheck } from '../../src/server/index.js';

/** What `serve` and `check-config` pass: the registry's types and its adapters' own checks. */
export const CLI_CHECKS: { providerTypes: readonly string[]; checkProvider: ProviderCheck } = { providerTypes: PROVIDER_TYPES, checkProvider: providerCheck() };

/** The ConfigError `text` gives, read as `serve` reads a file named gw.yaml. */
export function configError(text: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    parseConfig(text, { source: 'gw.yaml', env, ...CLI_CHECKS });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the config to be rejected');
}
