import { OpenAICompatibleAdapter } from '../openai-compatible/adapter.js';
import { configAdapterOptions, requireField, resolveBaseUrl, type ProviderPreset } from '../preset.js';

/** Latest GA data-plane version at the time of writing; set `apiVersion` to pin another. */
export const AZURE_DEFAULT_API_VERSION = '2024-10-21';
/**
 * `stream_options` and `max_completion_tokens` arrived with this api-version (2024-09-01-preview); older
 * ones answer 400 "Unknown parameter". From it on, a request's `max_tokens` goes as
 * `max_completion_tokens`: Azure's o-series deployments (o1, o3-mini, o4-mini) refuse `max_tokens`, and
 * every translated `/v1/messages` request carries it.
 */
const NEW_FIELDS_SINCE = '2024-09-01';

/**
 * Azure OpenAI: `baseUrl` is the resource (`https://{resource}.openai.azure.com`), the deployment picks the
 * model, `api-version` goes on every URL and the key in the `api-key` header.
 */
export const azureOpenai: ProviderPreset = {
  type: 'azure-openai',
  defaultBaseUrl: undefined,
  requiresKey: true,
  create(config, model, options) {
    const baseUrl = resolveBaseUrl(config, azureOpenai);
    const deployment = requireField(config, config.deployment, 'deployment');
    requireField(config, config.apiKey, 'apiKey');
    const apiVersion = config.apiVersion ?? AZURE_DEFAULT_API_VERSION;
    const version = encodeURIComponent(apiVersion);
    return new OpenAICompatibleAdapter({
      ...configAdapterOptions(config, model, baseUrl.replace(/\/+$/, ''), options),
      authHeader: 'api-key',
      // Versions are dates (`2024-10-21`, `2025-01-01-preview`): they compare as strings.
      streamUsage: config.streamUsage ?? apiVersion >= NEW_FIELDS_SINCE,
      maxCompletionTokens: apiVersion >= NEW_FIELDS_SINCE,
      paths: {
        chat: `/openai/deployments/${encodeURIComponent(deployment)}/chat/completions?api-version=${version}`,
        models: `/openai/models?api-version=${version}`,
        embeddings: `/openai/deployments/${encodeURIComponent(deployment)}/embeddings?api-version=${version}`,
      },
    });
  },
};
