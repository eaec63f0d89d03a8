import { openAICompatiblePreset } from '../openai-compatible/preset.js';

/** Moonshot (Kimi). International: `https://api.moonshot.ai/v1`. */
export const moonshot = openAICompatiblePreset({ type: 'moonshot', defaultBaseUrl: 'https://api.moonshot.cn/v1' });
