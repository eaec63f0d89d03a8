export { configSchema, STRATEGIES, ENDPOINTS, TYPES_WITHOUT_EMBEDDINGS, type Endpoint } from './schema.js';
export type { GatewayConfig, GatewayConfigInput, ProviderEntry, ModelEntry, DeploymentEntry, PoolOverride, ClientKeyEntry, UsageConfig, Pricing } from './schema.js';
export { parseConfig, loadConfigFile, type ParseConfigOptions } from './load.js';
export { ConfigError, formatIssue, formatPath, type ConfigIssue } from './errors.js';
export { DEFAULT_CONFIG_YAML, defaultConfig } from './defaults.js';
export { maskConfig, MASK } from './mask.js';
export { interpolateEnv } from './env.js';
export { parseDuration, parseSize, formatDuration } from './units.js';
export { modelRoutes, poolOptions, routingConfig, toProviderConfig, clientKeys, deploymentLimits, modelPricing, type ModelRoute, type ClientKey, type DeploymentLimits } from './derive.js';
