import { openAICompatiblePreset } from '../openai-compatible/preset.js';

/**
 * Zhipu (GLM). International: `https://api.z.ai/api/paas/v4`. Its business error codes are mapped in normalize-error.ts.
 * Zhipu reports usage in its last chunk unasked; `stream_options` is not part of its documented API.
 */
export const zhipu = openAICompatiblePreset({ type: 'zhipu', defaultBaseUrl: 'https://open.bigmodel.cn/api/paas/v4', streamUsage: false });
