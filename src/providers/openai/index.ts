import { openAICompatiblePreset } from '../openai-compatible/preset.js';

/** OpenAI. Set `headers` for `OpenAI-Organization` / `OpenAI-Project`. */
export const openai = openAICompatiblePreset({ type: 'openai', defaultBaseUrl: 'https://api.openai.com/v1' });
