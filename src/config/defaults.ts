import { parseConfig } from './load.js';
import type { GatewayConfig } from './schema.js';

/**
 * The built-in config used when no file is given: two mock providers and two demo models, so a
 * fresh clone serves completions with no keys and no network.
 */
export const DEFAULT_CONFIG_YAML = `# Built-in default config (used when no --config file is given)
server: { host: 127.0.0.1, port: 8080 }
providers:
  mock-a: { type: mock, mock: { latency: 5ms, chunks: 8, chunkDelay: 20ms } }
  mock-b: { type: mock, mock: { latency: 5ms, chunks: 8, chunkDelay: 20ms } }
models:
  demo-chat:
    strategy: round_robin
    providers:
      - { provider: mock-a, model: mock-chat }
      - { provider: mock-b, model: mock-chat }
  demo-failover:
    strategy: failover
    providers:
      - { provider: mock-a, model: mock-reasoner, priority: 0 }
      - { provider: mock-b, model: mock-reasoner, priority: 1 }
`;

/** A fresh copy of the built-in config. */
export function defaultConfig(): GatewayConfig {
  return parseConfig(DEFAULT_CONFIG_YAML, { source: '<built-in default>', env: {} });
}
