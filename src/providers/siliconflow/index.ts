import { openAICompatiblePreset } from '../openai-compatible/preset.js';

/**
 * SiliconFlow. Errors come as `{code,message,data}`, handled by the normalizer.
 * SiliconFlow reports usage in its chunks unasked.
 */
export const siliconflow = openAICompatiblePreset({ type: 'siliconflow', defaultBaseUrl: 'https://api.siliconflow.cn/v1', streamUsage: false });
