import { configAdapterOptions, requireField, resolveBaseUrl, type ProviderPreset } from '../preset.js';
import { AnthropicAdapter } from './adapter.js';

export { AnthropicAdapter, ANTHROPIC_DEFAULT_VERSION, type AnthropicAdapterOptions } from './adapter.js';
export { AnthropicStream } from './stream.js';
export { toAnthropicRequest, fromAnthropicResponse, toFinishReason, toUsage, ANTHROPIC_DEFAULT_MAX_TOKENS } from './translate.js';
export type * from './types.js';

/** Anthropic Messages API. `baseUrl` includes `/v1` (routes `/messages`, `/models`). */
export const anthropic: ProviderPreset = {
  type: 'anthropic',
  defaultBaseUrl: 'https://api.anthropic.com/v1',
  requiresKey: true,
  create(config, model, options) {
    const baseUrl = resolveBaseUrl(config, anthropic);
    requireField(config, config.apiKey, 'apiKey');
    return new AnthropicAdapter({
      ...configAdapterOptions(config, model, baseUrl, options),
      anthropicVersion: config.anthropicVersion,
      defaultMaxTokens: config.defaultMaxTokens,
    });
  },
};
