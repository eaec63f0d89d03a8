import { configAdapterOptions, requireField, resolveBaseUrl, type ProviderPreset } from '../preset.js';
import { OpenAICompatibleAdapter } from './adapter.js';

export interface OpenAICompatiblePresetInit {
  type: string;
  defaultBaseUrl?: string;
  /** Default true: hosted APIs need a key. Local servers (ollama, vllm) do not. */
  requiresKey?: boolean;
  /**
   * Ask for usage in streams (`stream_options.include_usage`) unless the config says otherwise
   * (`providers.*.streamUsage`). Default true; false where the upstream may refuse the field.
   */
  streamUsage?: boolean;
  /** False for an API without `/embeddings` (the config's TYPES_WITHOUT_EMBEDDINGS lists the type too). Default true. */
  embeddings?: boolean;
  /** Send `max_tokens` as `max_completion_tokens` (OpenAI's own API). Default false. */
  maxCompletionTokens?: boolean;
}

/** A provider that is the OpenAI-compatible base with a default base URL. */
export function openAICompatiblePreset(init: OpenAICompatiblePresetInit): ProviderPreset {
  const preset: ProviderPreset = {
    type: init.type,
    defaultBaseUrl: init.defaultBaseUrl,
    requiresKey: init.requiresKey ?? true,
    create(config, model, options) {
      const baseUrl = resolveBaseUrl(config, preset);
      if (preset.requiresKey) requireField(config, config.apiKey, 'apiKey');
      return new OpenAICompatibleAdapter({ ...configAdapterOptions(config, model, baseUrl, options), streamUsage: config.streamUsage ?? init.streamUsage ?? true, embeddings: init.embeddings ?? true, maxCompletionTokens: init.maxCompletionTokens ?? false });
    },
  };
  return preset;
}
