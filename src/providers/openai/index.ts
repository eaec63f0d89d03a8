import { openAICompatiblePreset } from '../openai-compatible/preset.js';

/**
 * OpenAI. Set `headers` for `OpenAI-Organization` / `OpenAI-Project`. A request's `max_tokens` goes as
 * `max_completion_tokens`: OpenAI deprecated the former, and its reasoning models (o1, o3, o4-mini,
 * gpt-5) answer 400 to it — which a translated `/v1/messages` request (Claude Code) always carries.
 */
export const openai = openAICompatiblePreset({ type: 'openai', defaultBaseUrl: 'https://api.openai.com/v1', maxCompletionTokens: true });
