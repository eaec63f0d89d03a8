import { anthropic } from './anthropic/index.js';
import { azureOpenai } from './azure-openai/index.js';
import { dashscope } from './dashscope/index.js';
import { deepseek } from './deepseek/index.js';
import { gemini } from './gemini/index.js';
import { mock } from './mock/index.js';
import { moonshot } from './moonshot/index.js';
import { ollama } from './ollama/index.js';
import { openai } from './openai/index.js';
import { openaiCompatible } from './openai-compatible/index.js';
import { ProviderConfigError, type AdapterFactoryOptions, type ProviderPreset } from './preset.js';
import { siliconflow } from './siliconflow/index.js';
import { vllm } from './vllm/index.js';
import { volcengine } from './volcengine/index.js';
import { zhipu } from './zhipu/index.js';
import type { ChatAdapter, ProviderConfig } from './types.js';

const PRESETS: readonly ProviderPreset[] = [
  mock,
  openaiCompatible,
  openai,
  volcengine,
  deepseek,
  dashscope,
  moonshot,
  zhipu,
  siliconflow,
  gemini,
  ollama,
  vllm,
  azureOpenai,
  anthropic,
];

const BY_TYPE: ReadonlyMap<string, ProviderPreset> = new Map(PRESETS.map((p) => [p.type, p]));

/** Every provider `type` a config may name. */
export const PROVIDER_TYPES: readonly string[] = PRESETS.map((p) => p.type);

/** Base URL used when a provider's config has none (types absent here need `baseUrl`, or have no network). */
export const DEFAULT_BASE_URLS: Readonly<Record<string, string>> = Object.fromEntries(
  PRESETS.filter((p) => p.defaultBaseUrl).map((p) => [p.type, p.defaultBaseUrl!]),
);

export function getProviderPreset(type: string): ProviderPreset | undefined {
  return BY_TYPE.get(type);
}

/**
 * Build the adapter for one upstream `model` of a configured provider. Throws `ProviderConfigError` for an
 * unknown type or a missing required field (baseUrl, apiKey of a hosted provider, Azure deployment).
 */
export function createProviderAdapter(config: ProviderConfig, model: string, options?: AdapterFactoryOptions): ChatAdapter {
  const preset = BY_TYPE.get(config.type);
  if (!preset) {
    throw new ProviderConfigError(`provider "${config.name}": unknown type "${config.type}" (known: ${PROVIDER_TYPES.join(', ')})`);
  }
  if (!model) throw new ProviderConfigError(`provider "${config.name}": no model given`);
  return preset.create(config, model, options);
}
