import type { PooledAdapter } from '../pool/types.js';

/**
 * OpenAI Chat Completions shapes. Deliberately loose: unknown fields must pass through
 * untouched (`thinking`, `enable_thinking`, `reasoning_effort`, ...), so these are
 * records with the fields we read typed.
 */
export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool' | (string & {});
  content?: string | null | Array<Record<string, unknown>>;
  name?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  reasoning_content?: string | null;
  [extra: string]: unknown;
}

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  stop?: string | string[] | null;
  /** Choices to generate (passed on as given; a stream with more than one ends well only with `[DONE]`). */
  n?: number | null;
  tools?: Array<{ type: 'function'; function: { name: string; description?: string; parameters?: Record<string, unknown> } }>;
  tool_choice?: 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } } | null;
  parallel_tool_calls?: boolean | null;
  user?: string;
  [extra: string]: unknown;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  [extra: string]: unknown;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: ChatMessage & { role: 'assistant' };
    finish_reason: string | null;
    logprobs?: unknown;
  }>;
  usage?: Usage;
  [extra: string]: unknown;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: Partial<ChatMessage> & { tool_calls?: Array<Partial<ToolCall> & { index: number }> };
    finish_reason: string | null;
    logprobs?: unknown;
  }>;
  usage?: Usage | null;
  [extra: string]: unknown;
}

/** OpenAI's embeddings request. Unknown fields pass through to the upstream untouched. */
export interface EmbeddingsRequest {
  model: string;
  /** A string, an array of strings, an array of token ids, or an array of those. */
  input: string | string[] | number[] | number[][];
  encoding_format?: 'float' | 'base64';
  dimensions?: number;
  user?: string;
  [extra: string]: unknown;
}

export interface Embedding {
  object: 'embedding';
  index: number;
  /** Floats, or with `encoding_format: base64` their little-endian float32 bytes in base64. */
  embedding: number[] | string;
}

export interface EmbeddingsResponse {
  object: 'list';
  data: Embedding[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
  [extra: string]: unknown;
}

export interface ModelInfo {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
}

export interface CallOptions {
  /** The caller hung up: abort the upstream request at once. */
  signal?: AbortSignal;
}

/**
 * A stream of OpenAI chunks, handed out only once the upstream answered 200 and its first data event
 * arrived and was validated (a parseable chunk, not an error frame; keep-alive comments before it are
 * skipped): everything that can still be retried elsewhere has failed before the stream exists.
 *
 * Iterate it for parsed chunks, or call `sse()` for ready-to-write SSE frames ending with
 * `data: [DONE]`. For providers that speak OpenAI SSE those frames are the upstream's bytes as they came
 * (first event included; no decoding, no re-encoding); usage and in-stream errors are found by a cheap
 * byte scan that parses only the events that may hold them. Use one or the other, once.
 * Either iterator throws a `ProviderError` for an error inside the stream (an error frame, a malformed
 * chunk, an event over the size cap, a cut connection) — never a silent end.
 */
export interface ChatCompletionStream extends AsyncIterable<ChatCompletionChunk> {
  sse(): AsyncIterable<string | Uint8Array>;
  /** Abort the upstream request and release its socket (idempotent). */
  cancel(): void;
  /**
   * Usage the upstream reported (its usage chunk), once it arrived — also when the client did not ask
   * for it (OpenAI-compatible adapters ask the upstream for it and keep that chunk from the client) and
   * when the stream was abandoned after it arrived.
   */
  readonly usage: Usage | undefined;
}

export interface AdapterCounters {
  requests: number;
  successes: number;
  failures: number;
  /** Calls the caller aborted (client hung up): neither success nor failure of the adapter. */
  aborted?: number;
  /** Mean latency of finished requests in ms (time to full response, or stream end). */
  mean_latency_ms: number;
  success_rate: number;
  in_flight: number;
  /** Median and 95th percentile of the finished requests' latency in ms (bucketed, about ±25 %); null before any. */
  latency_p50_ms?: number | null;
  latency_p95_ms?: number | null;
}

/** What the pool lends for one `model:provider`: a client of one upstream model. */
export interface ChatAdapter extends PooledAdapter {
  /** Provider name as configured (the key in `providers:`), e.g. "volcengine". */
  readonly provider: string;
  /** Provider type, e.g. "openai-compatible", "anthropic", "mock". */
  readonly type: string;
  /** Upstream model id, e.g. "doubao-seed-1-6-flash-250715". */
  readonly model: string;
  /**
   * OpenAI-compatible adapters return the upstream's text behind the object (`completionText()`):
   * send that as is; `usage` reads cheaply without parsing the rest.
   */
  chatCompletion(request: ChatCompletionRequest, options?: CallOptions): Promise<ChatCompletion>;
  /**
   * Resolves once the upstream answered 200 and its first data event arrived and was validated
   * (errors before that reject with a ProviderError, so the router can still retry or fail over).
   */
  chatCompletionStream(request: ChatCompletionRequest, options?: CallOptions): Promise<ChatCompletionStream>;
  listModels(options?: CallOptions): Promise<ModelInfo[]>;
  /**
   * OpenAI embeddings, for providers that have them (absent: the provider has no embeddings endpoint,
   * and the config refuses to route an embeddings model to it).
   */
  embeddings?(request: EmbeddingsRequest, options?: CallOptions): Promise<EmbeddingsResponse>;
  healthCheck(): Promise<boolean>;
  close(): Promise<void>;
  counters(): AdapterCounters;
}

/** Timeouts of one provider, in ms. */
export interface ProviderTimeouts {
  /** TCP+TLS connect. */
  connectMs: number;
  /** Request sent -> response headers/first byte. Long: reasoning models think first. */
  firstByteMs: number;
  /** Idle time between two body chunks (streams) or during a body. */
  idleMs: number;
}

export interface MockOptions {
  /** Delay before the response (or first chunk). */
  latencyMs?: number;
  /** Number of content chunks in a stream. */
  chunks?: number;
  /** Delay between stream chunks. */
  chunkDelayMs?: number;
  /** Fixed reply text; default echoes the last user message deterministically. */
  reply?: string;
  /** Fault injection: fail this fraction of calls (deterministic sequence), with this status. */
  failRate?: number;
  failStatus?: number;
  /** Fail every stream with a `stream_error` after this many content chunks (an error inside a 200 stream). */
  streamFailAfter?: number;
  /** Make healthCheck() report false. */
  unhealthy?: boolean;
  /** Length of the deterministic embedding vectors (a request's `dimensions` wins). */
  dimensions?: number;
}

export interface ProviderConfig {
  /** Name of this provider in config (`providers.<name>`). */
  name: string;
  /** openai-compatible | openai | volcengine | deepseek | dashscope | moonshot | zhipu | siliconflow | gemini | ollama | vllm | azure-openai | anthropic | mock */
  type: string;
  baseUrl?: string;
  apiKey?: string;
  headers?: Record<string, string>;
  /** azure-openai */
  apiVersion?: string;
  deployment?: string;
  /** anthropic: version header and default max_tokens */
  anthropicVersion?: string;
  defaultMaxTokens?: number;
  timeouts?: Partial<ProviderTimeouts>;
  /** Bytes one non-streamed upstream response may take (default 16 MiB); over it: 502 `upstream_response_too_large`. */
  maxResponseSize?: number;
  /** Bytes one SSE event of a stream may take (default 8 MiB); over it the stream ends with that error. */
  maxEventSize?: number;
  /** OpenAI-compatible types: ask the upstream for usage in streams (`stream_options.include_usage`); default per type. */
  streamUsage?: boolean;
  /** `models` = GET /models (cheap, default); `completion` = a tiny chat completion. */
  healthCheck?: 'models' | 'completion';
  mock?: MockOptions;
}
