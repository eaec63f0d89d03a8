import { openAICompatiblePreset } from '../openai-compatible/preset.js';

/** Local Ollama, no key. */
export const ollama = openAICompatiblePreset({ type: 'ollama', defaultBaseUrl: 'http://127.0.0.1:11434/v1', requiresKey: false });
