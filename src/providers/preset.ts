import type { PoolLogger } from '../pool/types.js';
import { scrubberOf } from './scrub.js';
import type { ChatAdapter, ProviderConfig } from './types.js';

export interface AdapterFactoryOptions {
  logger?: PoolLogger;
}

/** One provider type: its defaults and how to build an adapter from config. */
export interface ProviderPreset {
  readonly type: string;
  /** Used when the config gives no `baseUrl`. */
  readonly defaultBaseUrl: string | undefined;
  /** Hosted providers refuse every call without a key: fail at creation instead. */
  readonly requiresKey: boolean;
  create(config: ProviderConfig, model: string, options?: AdapterFactoryOptions): ChatAdapter;
}

/** Thrown for a config that cannot make an adapter (unknown type, missing field). */
export class ProviderConfigError extends Error {
  override readonly name = 'ProviderConfigError';
}

export function requireField<T>(config: ProviderConfig, value: T | undefined | null | '', field: string): T {
  if (value === undefined || value === null || value === '') {
    throw new ProviderConfigError(`provider "${config.name}" (type ${config.type}) needs "${field}"`);
  }
  return value;
}

/** `config.baseUrl` or the preset's default, checked to be an http(s) URL. */
export function resolveBaseUrl(config: ProviderConfig, preset: Pick<ProviderPreset, 'defaultBaseUrl'>): string {
  const baseUrl = requireField(config, config.baseUrl ?? preset.defaultBaseUrl, 'baseUrl');
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ProviderConfigError(`provider "${config.name}": baseUrl "${baseUrl}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ProviderConfigError(`provider "${config.name}": baseUrl must be http(s), got "${url.protocol}"`);
  }
  return baseUrl;
}

/** The adapter options every HTTP preset takes straight from its config. */
export function configAdapterOptions(config: ProviderConfig, model: string, baseUrl: string, options?: AdapterFactoryOptions) {
  return {
    provider: config.name,
    type: config.type,
    model,
    baseUrl,
    apiKey: config.apiKey,
    headers: config.headers,
    // One scrubber per provider config, shared by all its adapters.
    scrubber: scrubberOf(config),
    timeouts: config.timeouts,
    maxResponseSize: config.maxResponseSize,
    maxEventSize: config.maxEventSize,
    healthCheck: config.healthCheck,
    logger: options?.logger,
  };
}
