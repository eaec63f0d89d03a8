import type { ProviderPreset } from '../preset.js';
import { MockAdapter } from './adapter.js';

export { MockAdapter, MOCK_DEFAULT_CHUNKS, MOCK_DEFAULT_DIMENSIONS, type MockAdapterOptions } from './adapter.js';

/** Built-in, no network, no key. */
export const mock: ProviderPreset = {
  type: 'mock',
  defaultBaseUrl: undefined,
  requiresKey: false,
  create(config, model, options) {
    return new MockAdapter({ ...config.mock, provider: config.name, model, logger: options?.logger });
  },
};
