import { openAICompatiblePreset } from './preset.js';

export { OpenAICompatibleAdapter, type OpenAICompatibleOptions } from './adapter.js';
export { OpenAISseStream } from './stream.js';
export { openAICompatiblePreset, type OpenAICompatiblePresetInit } from './preset.js';

/** Any OpenAI-compatible server: `baseUrl` required, key optional (bearer when given), extra `headers`. */
export const openaiCompatible = openAICompatiblePreset({ type: 'openai-compatible', requiresKey: false });
