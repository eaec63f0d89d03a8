import type { Logger } from 'pino';
import { ConfigError, modelRoutes, toProviderConfig, type GatewayConfig, type ProviderCheck } from '../config/index.js';
import { createProviderAdapter } from '../providers/registry.js';
import type { ChatAdapter, ProviderConfig } from '../providers/types.js';

export type AdapterFactory = (config: ProviderConfig, model: string, options?: { logger?: Logger }) => ChatAdapter;

/**
 * A `ProviderCheck` for `parseConfig`: build (and close at once) one adapter per model the
 * provider serves, so a provider the registry cannot build (missing baseUrl or key, Azure
 * `deployment`, bad URL) is reported with the file's line instead of failing at the first request.
 * Adapters do no I/O when built.
 */
export function providerCheck(factory: AdapterFactory = createProviderAdapter, logger?: Logger): ProviderCheck {
  return (name, entry, models) => {
    const messages: string[] = [];
    for (const model of models.length > 0 ? models : ['model']) {
      try {
        const adapter = factory(toProviderConfig(name, entry), model, logger ? { logger } : {});
        void adapter.close().catch(() => {});
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (!messages.includes(message)) messages.push(message);
      }
    }
    return messages;
  };
}

/** The same check on a config already parsed (a gateway built from code): throws a `ConfigError`. */
export function checkProviders(config: GatewayConfig, factory: AdapterFactory = createProviderAdapter, logger?: Logger): void {
  const check = providerCheck(factory, logger);
  const models = new Map<string, string[]>();
  for (const route of modelRoutes(config).values()) {
    for (const d of route.deployments) models.set(d.provider, [...(models.get(d.provider) ?? []), d.model]);
  }
  const issues = [...models].flatMap(([name, list]) => check(name, config.providers[name]!, list).map((message) => ({ path: `providers.${name}`, message })));
  if (issues.length > 0) throw new ConfigError('config', issues);
}
