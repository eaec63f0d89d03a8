import { HttpChatAdapter, type HttpAdapterOptions, type StreamSettle } from '../http-adapter.js';
import { parsePayload } from '../http-util.js';
import type { CallOptions, ChatCompletion, ChatCompletionRequest, ChatCompletionStream, ModelInfo } from '../types.js';
import { AnthropicStream } from './stream.js';
import { fromAnthropicResponse, toAnthropicRequest } from './translate.js';
import type { AnthropicResponse } from './types.js';

export const ANTHROPIC_DEFAULT_VERSION = '2023-06-01';

/** A Messages API call passed through: the client's `anthropic-beta` features go along. */
export interface PassthroughOptions extends CallOptions {
  beta?: string;
}

export interface AnthropicAdapterOptions extends Omit<HttpAdapterOptions, 'headers'> {
  apiKey?: string;
  headers?: Record<string, string>;
  anthropicVersion?: string;
  defaultMaxTokens?: number;
}

const isMessage = (v: Record<string, unknown>) => v.type === 'message' && Array.isArray(v.content);
const isModelList = (v: Record<string, unknown>) => Array.isArray(v.data);
const isTokenCount = (v: Record<string, unknown>) => typeof v.input_tokens === 'number';

/** Anthropic Messages API behind the OpenAI interface: translated both ways, streams included. */
export class AnthropicAdapter extends HttpChatAdapter {
  private readonly defaultMaxTokens: number | undefined;
  private readonly streamHeaders: Record<string, string>;

  constructor(opts: AnthropicAdapterOptions) {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      'anthropic-version': opts.anthropicVersion ?? ANTHROPIC_DEFAULT_VERSION,
    };
    if (opts.apiKey) headers['x-api-key'] = opts.apiKey;
    for (const [k, v] of Object.entries(opts.headers ?? {})) headers[k.toLowerCase()] = v;
    super({ ...opts, headers });
    this.defaultMaxTokens = opts.defaultMaxTokens;
    this.streamHeaders = { ...headers, accept: 'text/event-stream' };
  }

  protected async complete(request: ChatCompletionRequest, signal: AbortSignal | undefined): Promise<ChatCompletion> {
    const body = toAnthropicRequest(request, { model: this.model, defaultMaxTokens: this.defaultMaxTokens });
    const res = await this.fetch({ method: 'POST', path: '/messages', headers: this.headers, body: JSON.stringify(body), signal });
    const msg = parsePayload<AnthropicResponse>(res.text, res, this.readContext(undefined), isMessage);
    return fromAnthropicResponse(msg);
  }

  protected async openStream(request: ChatCompletionRequest, signal: AbortSignal | undefined, settle: StreamSettle): Promise<ChatCompletionStream> {
    const body = toAnthropicRequest(request, { model: this.model, defaultMaxTokens: this.defaultMaxTokens, stream: true });
    const res = await this.send({ method: 'POST', path: '/messages', headers: this.streamHeaders, body: JSON.stringify(body), signal });
    const stream = new AnthropicStream(this.streamContext(res.body, signal, settle), this.model, request.stream_options?.include_usage === true);
    await stream.open();
    return stream;
  }

  /**
   * `POST /messages` with a client's own Messages request (for `/v1/messages`): sent as it is but with our
   * model id, answered as the upstream answered. The key is always this provider's.
   */
  messages(body: Record<string, unknown>, options?: PassthroughOptions): Promise<AnthropicResponse> {
    const signal = options?.signal;
    return this.counted(signal, async () => {
      const { stream: _stream, ...rest } = body;
      const res = await this.fetch({ method: 'POST', path: '/messages', headers: this.withBeta(this.headers, options?.beta), body: JSON.stringify({ ...rest, model: this.model }), signal });
      return parsePayload<AnthropicResponse>(res.text, res, this.readContext(undefined), isMessage);
    });
  }

  /**
   * `POST /messages/count_tokens` with a client's request (our model id): Anthropic's own count. Not in
   * the adapter's counters: a count is no completion, and its latency would skew theirs.
   */
  async countTokens(body: Record<string, unknown>, options?: PassthroughOptions): Promise<number> {
    const payload = JSON.stringify({ ...body, model: this.model });
    const res = await this.fetch({ method: 'POST', path: '/messages/count_tokens', headers: this.withBeta(this.headers, options?.beta), body: payload, signal: options?.signal });
    return parsePayload<{ input_tokens: number }>(res.text, res, this.readContext(undefined), isTokenCount).input_tokens;
  }

  /** The streaming `messages`: resolves once the first event arrived and is not an error; read it with `native()`. */
  messagesStream(body: Record<string, unknown>, options?: PassthroughOptions): Promise<AnthropicStream> {
    const signal = options?.signal;
    return this.countedStream(signal, async (settle) => {
      const payload = JSON.stringify({ ...body, model: this.model, stream: true });
      const res = await this.send({ method: 'POST', path: '/messages', headers: this.withBeta(this.streamHeaders, options?.beta), body: payload, signal });
      const stream = new AnthropicStream(this.streamContext(res.body, signal, settle), this.model, true);
      await stream.open();
      return stream;
    });
  }

  /** The client's beta features after any the provider's config sets. */
  private withBeta(headers: Record<string, string>, beta: string | undefined): Record<string, string> {
    if (!beta) return headers;
    const configured = headers['anthropic-beta'];
    return { ...headers, 'anthropic-beta': configured ? `${configured},${beta}` : beta };
  }

  async listModels(options?: CallOptions): Promise<ModelInfo[]> {
    const res = await this.fetch({ method: 'GET', path: '/models', headers: this.headers, signal: options?.signal });
    const list = parsePayload<{ data: Array<{ id: string; created_at?: string }> }>(res.text, res, this.readContext(undefined), isModelList);
    return list.data.map((m) => ({
      id: m.id,
      object: 'model',
      created: m.created_at ? Math.floor(Date.parse(m.created_at) / 1000) || 0 : 0,
      owned_by: 'anthropic',
    }));
  }
}
