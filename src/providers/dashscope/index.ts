import { openAICompatiblePreset } from '../openai-compatible/preset.js';

/** Alibaba DashScope (Qwen), compatible mode. International accounts: `https://dashscope-intl.aliyuncs.com/compatible-mode/v1`. */
export const dashscope = openAICompatiblePreset({ type: 'dashscope', defaultBaseUrl: 'https://dashscope.aliyuncs.com/compatible-mode/v1' });
