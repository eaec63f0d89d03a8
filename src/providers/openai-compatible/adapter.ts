import { ProviderError } from '../errors.js';
import { HttpChatAdapter, type HttpAdapterOptions, type StreamSettle } from '../http-adapter.js';
import { isJsonResponse, parsePayload, readText } from '../http-util.js';
import { normalizeProviderError } from '../normalize-error.js';
import { lazyCompletion, looksLikeCompletion } from '../raw-completion.js';
import type { CallOptions, ChatCompletion, ChatCompletionRequest, ChatCompletionStream, EmbeddingsRequest, EmbeddingsResponse, ModelInfo } from '../types.js';
import { OpenAISseStream } from './stream.js';

export interface OpenAICompatibleOptions extends Omit<HttpAdapterOptions, 'headers'> {
  /** Extra headers sent with every request (after auth, so they may override it). */
  headers?: Record<string, string>;
  /** How the key travels: `Authorization: Bearer` (default) or a named header (Azure `api-key`). */
  authHeader?: 'bearer' | string;
  /** Routes relative to the base URL. */
  paths?: { chat?: string; models?: string; embeddings?: string };
  /**
   * Ask for usage in every stream (`stream_options.include_usage`), so token counts are known even when
   * the client did not ask; the usage-only chunk is then kept from a client that did not. Default true;
   * false for upstreams that refuse `stream_options`.
   */
  streamUsage?: boolean;
  /** False for an API without `/embeddings` (DeepSeek, Moonshot): the adapter then has no `embeddings`. Default true. */
  embeddings?: boolean;
  /**
   * Send a request's `max_tokens` as `max_completion_tokens` (OpenAI's own API: `max_tokens` is deprecated
   * there and refused by its reasoning models). Default false: most compatible APIs know only `max_tokens`.
   */
  maxCompletionTokens?: boolean;
}

const isCompletion = (v: Record<string, unknown>) => Array.isArray(v.choices);
/** OpenAI's list shape (`{object: "list", data: [...]}`): the models list and the embeddings answer. */
const isDataList = (v: Record<string, unknown>) => Array.isArray(v.data);

/**
 * Adapter for any provider that speaks OpenAI's Chat Completions: the request goes out as given (unknown
 * fields like `thinking`, `enable_thinking`, `reasoning_effort` included) with the model replaced by ours;
 * responses and SSE come back untouched (`reasoning_content` included).
 */
export class OpenAICompatibleAdapter extends HttpChatAdapter {
  private readonly chatPath: string;
  private readonly modelsPath: string;
  private readonly embeddingsPath: string;
  private readonly streamHeaders: Record<string, string>;
  private readonly streamUsage: boolean;
  private readonly maxCompletionTokens: boolean;

  constructor(opts: OpenAICompatibleOptions) {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (opts.apiKey) {
      if (!opts.authHeader || opts.authHeader === 'bearer') headers.authorization = `Bearer ${opts.apiKey}`;
      else headers[opts.authHeader.toLowerCase()] = opts.apiKey;
    }
    super({ ...opts, headers: { ...headers, ...lowerKeys(opts.headers) } });
    this.chatPath = opts.paths?.chat ?? '/chat/completions';
    this.modelsPath = opts.paths?.models ?? '/models';
    this.embeddingsPath = opts.paths?.embeddings ?? '/embeddings';
    this.streamHeaders = { ...this.headers, accept: 'text/event-stream' };
    this.streamUsage = opts.streamUsage ?? true;
    this.maxCompletionTokens = opts.maxCompletionTokens ?? false;
    // An own `undefined` hides the inherited method: callers test `adapter.embeddings` for the capability
    // (ChatAdapter's `embeddings` is optional), and the config refuses embeddings models on these types.
    if (opts.embeddings === false) Object.defineProperty(this, 'embeddings', { value: undefined });
  }

  protected async complete(request: ChatCompletionRequest, signal: AbortSignal | undefined): Promise<ChatCompletion> {
    // Without the stream fields (stream_options is refused by OpenAI unless stream is true). A rest
    // spread keeps JSON.stringify on V8's fast path; `delete` or `field: undefined` leave it. The
    // usual request has neither field: one copy then, not two.
    let body: ChatCompletionRequest;
    if (request.stream === undefined && request.stream_options === undefined) body = { ...request, model: this.model };
    else {
      const { stream: _stream, stream_options: _streamOptions, ...rest } = request;
      body = { ...rest, model: this.model };
    }
    if (this.maxCompletionTokens) body = withCompletionTokens(body);
    const res = await this.fetch({ method: 'POST', path: this.chatPath, headers: this.headers, body: JSON.stringify(body), signal });
    // The common case is kept as the upstream's text (`completionText()`), parsed only if read.
    if (looksLikeCompletion(res.text)) return lazyCompletion(res.text, this.provider);
    return parsePayload<ChatCompletion>(res.text, res, this.readContext(undefined), isCompletion);
  }

  protected async openStream(request: ChatCompletionRequest, signal: AbortSignal | undefined, settle: StreamSettle): Promise<ChatCompletionStream> {
    const clientWantsUsage = request.stream_options?.include_usage === true;
    const askUsage = this.streamUsage && !clientWantsUsage;
    const out: ChatCompletionRequest = askUsage
      ? { ...request, model: this.model, stream: true, stream_options: { ...request.stream_options, include_usage: true } }
      : { ...request, model: this.model, stream: true };
    const body = JSON.stringify(this.maxCompletionTokens ? withCompletionTokens(out) : out);
    const res = await this.send({ method: 'POST', path: this.chatPath, headers: this.streamHeaders, body, signal });
    if (isJsonResponse(res)) {
      // 200 with a JSON body instead of SSE: an error object (or a provider that ignored `stream`).
      const text = await readText(res, this.readContext(signal));
      const err = normalizeProviderError(this.provider, res.statusCode, text, res.headers, { scrubber: this.scrubber });
      throw new ProviderError({
        provider: this.provider,
        status: 502,
        errorClass: err.errorClass,
        message: err.body.error.message,
        code: err.body.error.code,
        type: err.body.error.type,
        param: err.body.error.param,
      });
    }
    // A usage-only chunk reaches only a client that asked for one: whether we asked, or the upstream sent it unasked.
    const stream = new OpenAISseStream(this.streamContext(res.body, signal, settle), { dropUsageChunk: !clientWantsUsage, choices: typeof request.n === 'number' ? request.n : 1 });
    await stream.open();
    return stream;
  }

  /** `POST /embeddings`, passed through with the model replaced by ours. */
  embeddings(request: EmbeddingsRequest, options?: CallOptions): Promise<EmbeddingsResponse> {
    const signal = options?.signal;
    return this.counted(signal, async () => {
      const body = JSON.stringify({ ...request, model: this.model });
      const res = await this.fetch({ method: 'POST', path: this.embeddingsPath, headers: this.headers, body, signal });
      return parsePayload<EmbeddingsResponse>(res.text, res, this.readContext(undefined), isDataList);
    });
  }

  async listModels(options?: CallOptions): Promise<ModelInfo[]> {
    const res = await this.fetch({ method: 'GET', path: this.modelsPath, headers: this.headers, signal: options?.signal });
    const list = parsePayload<{ data: Array<Partial<ModelInfo> & { id: string }> }>(res.text, res, this.readContext(undefined), isDataList);
    return list.data.map((m) => ({ id: m.id, object: 'model', created: m.created ?? 0, owned_by: m.owned_by ?? this.provider }));
  }
}

/** `max_tokens` as `max_completion_tokens`, unless the request set the latter itself. */
function withCompletionTokens(body: ChatCompletionRequest): ChatCompletionRequest {
  if (body.max_tokens === undefined || body.max_tokens === null || (body.max_completion_tokens !== undefined && body.max_completion_tokens !== null)) return body;
  const { max_tokens: max, ...rest } = body;
  return { ...rest, max_completion_tokens: max };
}

function lowerKeys(h: Record<string, string> | undefined): Record<string, string> {
  if (!h) return {};
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}
