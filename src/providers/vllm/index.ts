import { openAICompatiblePreset } from '../openai-compatible/preset.js';

/** Local vLLM (`vllm serve`), no key unless started with `--api-key`. */
export const vllm = openAICompatiblePreset({ type: 'vllm', defaultBaseUrl: 'http://127.0.0.1:8000/v1', requiresKey: false });
