import type { Logger } from 'pino';
import { ConfigError, modelRoutes, toProviderConfig, type GatewayConfig } from '../config/index.js';
import { createProviderAdapter } from '../providers/registry.js';
import type { ChatAdapter, ProviderConfig } from '../providers/types.js';

export type AdapterFactory = (config: ProviderConfig, model: string, options?: { logger?: Logger }) => ChatAdapter;

/**
 * Build (and close at once) one adapter per deployment, so a provider the registry cannot build
 * (missing baseUrl or key, bad URL) fails at start with its name instead of at the first request.
 * Adapters do no I/O when built.
 */
export function checkProviders(config: GatewayConfig, factory: AdapterFactory = createProviderAdapter, logger?: Logger): void {
  const issues: { path: string; message: string }[] = [];
  const seen = new Set<string>();
  for (const route of modelRoutes(config).values()) {
    for (const d of route.deployments) {
      if (seen.has(d.key)) continue;
      seen.add(d.key);
      try {
        const adapter = factory(toProviderConfig(d.provider, config.providers[d.provider]!), d.model, { logger });
        void adapter.close().catch(() => {});
      } catch (err) {
        issues.push({ path: `providers.${d.provider}`, message: err instanceof Error ? err.message : String(err) });
      }
    }
  }
  if (issues.length > 0) throw new ConfigError('config', issues);
}
