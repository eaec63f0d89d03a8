import { openAICompatiblePreset } from '../openai-compatible/preset.js';

/**
 * Moonshot (Kimi). International: `https://api.moonshot.ai/v1`.
 * Moonshot reports usage in its last chunk unasked (inside the choice); `stream_options` is not part of its documented API.
 * It has no `/embeddings` (403 "The API you are accessing is not open").
 */
export const moonshot = openAICompatiblePreset({ type: 'moonshot', defaultBaseUrl: 'https://api.moonshot.cn/v1', streamUsage: false, embeddings: false });
