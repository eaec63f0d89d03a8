import { openAICompatiblePreset } from '../openai-compatible/preset.js';

/** DeepSeek. Thinking models answer with `reasoning_content`, forwarded as is. Its API has no `/embeddings` (404). */
export const deepseek = openAICompatiblePreset({ type: 'deepseek', defaultBaseUrl: 'https://api.deepseek.com', embeddings: false });
