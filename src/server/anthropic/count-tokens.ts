import { CHARS_PER_TOKEN } from '../../routing/index.js';
import type { InboundBlock, MessagesRequest } from './types.js';
/** Tokens counted per image (Anthropic bills about 1,600 for a 1092x1092 picture). */
const TOKENS_PER_IMAGE = 1_600;
/** Tokens counted per message for its role and framing. */
const TOKENS_PER_MESSAGE = 4;

/**
 * `POST /v1/messages/count_tokens`: an ESTIMATE, not a tokenizer's count — the model behind a gateway
 * name may be any provider's, each with its own tokenizer. Text (system, messages, tool inputs and
 * results, tool definitions) at `CHARS_PER_TOKEN`, plus fixed costs per message and per image.
 */
export function estimateInputTokens(req: Pick<MessagesRequest, 'messages' | 'system' | 'tools'>): number {
  let chars = 0;
  let fixed = 0;
  if (typeof req.system === 'string') chars += req.system.length;
  else for (const b of req.system ?? []) chars += b.text.length;
  for (const t of req.tools ?? []) chars += JSON.stringify(t).length;
  const blocks = (content: string | InboundBlock[]): void => {
    if (typeof content === 'string') {
      chars += content.length;
      return;
    }
    for (const b of content) {
      const x = b as Record<string, unknown>;
      if (b.type === 'image') fixed += TOKENS_PER_IMAGE;
      else if (typeof x.text === 'string') chars += x.text.length;
      else if (b.type === 'tool_use') chars += JSON.stringify(x.input ?? {}).length + String(x.name ?? '').length;
      // A tool_result's content may be absent or null (the schema takes both): nothing to count then.
      else if (b.type === 'tool_result' && x.content !== undefined && x.content !== null) blocks(x.content as string | InboundBlock[]);
      else if (typeof x.thinking === 'string') chars += x.thinking.length;
    }
  };
  for (const m of req.messages) {
    fixed += TOKENS_PER_MESSAGE;
    blocks(m.content);
  }
  return Math.max(1, Math.ceil(chars / CHARS_PER_TOKEN) + fixed);
}
