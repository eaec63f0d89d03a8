import { openAICompatiblePreset } from '../openai-compatible/preset.js';

/**
 * Volcengine Ark (火山方舟 / Doubao). Model ids like `doubao-seed-1-6-flash-250715`, or endpoint ids `ep-...`
 * (some accounts must use those). `thinking` passes through untouched.
 */
export const volcengine = openAICompatiblePreset({ type: 'volcengine', defaultBaseUrl: 'https://ark.cn-beijing.volces.com/api/v3' });
