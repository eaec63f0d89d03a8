import { openAICompatiblePreset } from './preset.js';

export { OpenAICompatibleAdapter, type OpenAICompatibleOptions } from './adapter.js';
export { OpenAISseStream } from './stream.js';
export { openAICompatiblePreset, type OpenAICompatiblePresetInit } from './preset.js';

/**
 * Any OpenAI-compatible server: `baseUrl` required, key optional (bearer when given), extra `headers`.
 * Not asked for stream usage by default: some servers refuse `stream_options` (Mistral 422, Groq 400,
 * older proxies "Unknown parameter"); set `streamUsage: true` for one that takes it.
 */
export const openaiCompatible = openAICompatiblePreset({ type: 'openai-compatible', requiresKey: false, streamUsage: false });
