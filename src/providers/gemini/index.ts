import { openAICompatiblePreset } from '../openai-compatible/preset.js';

/** Google Gemini through its OpenAI-compatible endpoint (errors arrive as a JSON array; the normalizer reads it). */
export const gemini = openAICompatiblePreset({ type: 'gemini', defaultBaseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai' });
