import type { AnthropicContentBlock } from '../../providers/anthropic/types.js';

/** What a client sends to `POST /v1/messages` (Anthropic's Messages API); fields we do not read pass through to an `anthropic` upstream. */
export interface MessagesRequest {
  model: string;
  max_tokens: number;
  messages: InboundMessage[];
  system?: string | Array<{ type: 'text'; text: string; [extra: string]: unknown }>;
  stop_sequences?: string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stream?: boolean;
  tools?: InboundTool[];
  tool_choice?: { type: 'auto' | 'any' | 'none' | 'tool'; name?: string; disable_parallel_tool_use?: boolean };
  metadata?: { user_id?: string | null };
  [extra: string]: unknown;
}

export interface InboundMessage {
  role: 'user' | 'assistant';
  content: string | InboundBlock[];
}

/** Blocks as clients send them: the provider's block union plus anything newer, read by `type`. */
export type InboundBlock = AnthropicContentBlock | { type: string; [extra: string]: unknown };

export interface InboundTool {
  /** Absent or `custom` for client tools; server tools (`web_search_20250305`, `bash_20250124`, ...) name a version. */
  type?: string;
  name: string;
  description?: string;
  input_schema?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** The Messages API's response. */
export interface MessagesResponse {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: OutboundBlock[];
  stop_reason: string | null;
  stop_sequence: string | null;
  usage: AnthropicOutUsage;
}

export type OutboundBlock = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown };

export interface AnthropicOutUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number | null;
  cache_read_input_tokens: number | null;
}
