import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PoolLogger } from '../../pool/types.js';
import { RequestCounters } from '../counters.js';
import { embeddingInputs, encodeEmbedding } from '../embeddings.js';
import { ProviderError } from '../errors.js';
import { normalizeProviderError } from '../normalize-error.js';
import { SSE_DONE } from '../sse.js';
import type {
  AdapterCounters,
  CallOptions,
  ChatAdapter,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChatCompletionStream,
  ChatMessage,
  EmbeddingsRequest,
  EmbeddingsResponse,
  MockOptions,
  ModelInfo,
  ToolCall,
  Usage,
} from '../types.js';

export const MOCK_DEFAULT_CHUNKS = 4;
/** Length of the mock's embedding vectors unless `mock.dimensions` or the request's `dimensions` says otherwise. */
export const MOCK_DEFAULT_DIMENSIONS = 16;
/**
 * Most numbers one mock embeddings answer holds (inputs × dimensions); more is refused with a 400, as a
 * real upstream refuses dimensions its model lacks. Without it one request (`dimensions: 100000000`)
 * made a vector that took the whole process's heap.
 */
const MOCK_MAX_EMBEDDING_VALUES = 4_194_304;

export interface MockAdapterOptions extends MockOptions {
  provider: string;
  model: string;
  logger?: PoolLogger;
}

/** What one mock call answers, computed up front so stream and non-stream agree. */
interface MockAnswer {
  id: string;
  text: string;
  toolCall: ToolCall | undefined;
  usage: Usage;
}

/**
 * Built-in provider: no network, deterministic answers (the configured `reply`, else an echo of the last
 * user message), settable latency, chunking and faults. The default provider, so the gateway runs with no
 * keys; and the upstream of tests and benchmarks. With zero latency it arms no timers.
 */
export class MockAdapter implements ChatAdapter {
  readonly provider: string;
  readonly type = 'mock';
  readonly model: string;
  private readonly opts: MockOptions;
  private readonly stats = new RequestCounters();
  private calls = 0;
  private closed = false;

  constructor(opts: MockAdapterOptions) {
    this.provider = opts.provider;
    this.model = opts.model;
    this.opts = opts;
  }

  async chatCompletion(request: ChatCompletionRequest, options?: CallOptions): Promise<ChatCompletion> {
    const started = this.stats.start();
    try {
      const answer = await this.begin(request, options?.signal);
      const message: ChatCompletion['choices'][number]['message'] = { role: 'assistant', content: answer.toolCall ? null : answer.text };
      if (answer.toolCall) message.tool_calls = [answer.toolCall];
      const result: ChatCompletion = {
        id: answer.id,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: this.model,
        choices: [{ index: 0, message, finish_reason: answer.toolCall ? 'tool_calls' : 'stop', logprobs: null }],
        usage: answer.usage,
      };
      this.stats.succeed(started);
      return result;
    } catch (err) {
      this.stats.fail(started, err as ProviderError);
      throw err;
    }
  }

  /**
   * Resolves after the latency and the fault schedule, like the HTTP adapters after their first event:
   * the mock's first chunk (the role) is made in process and cannot fail, so every failure that may
   * still be retried elsewhere happens before the stream exists.
   */
  async chatCompletionStream(request: ChatCompletionRequest, options?: CallOptions): Promise<ChatCompletionStream> {
    const started = this.stats.start();
    let answer: MockAnswer;
    try {
      answer = await this.begin(request, options?.signal);
    } catch (err) {
      this.stats.fail(started, err as ProviderError);
      throw err;
    }
    return new MockStream({
      provider: this.provider,
      model: this.model,
      answer,
      chunks: Math.max(1, this.opts.chunks ?? MOCK_DEFAULT_CHUNKS),
      chunkDelayMs: this.opts.chunkDelayMs ?? 0,
      failAfter: this.opts.streamFailAfter,
      includeUsage: request.stream_options?.include_usage === true,
      signal: options?.signal,
      onSettle: (err) => (err ? this.stats.fail(started, err) : this.stats.succeed(started)),
    });
  }

  /** Deterministic unit vectors: the same input (and length) always gives the same vector, on any adapter. */
  async embeddings(request: EmbeddingsRequest, options?: CallOptions): Promise<EmbeddingsResponse> {
    const started = this.stats.start();
    try {
      await this.latencyAndFaults(options?.signal);
      const dims = request.dimensions ?? this.opts.dimensions ?? MOCK_DEFAULT_DIMENSIONS;
      const inputs = embeddingInputs(request.input);
      if (inputs.length * dims > MOCK_MAX_EMBEDDING_VALUES) {
        const message = `mock: ${inputs.length} inputs × ${dims} dimensions is over the mock's ${MOCK_MAX_EMBEDDING_VALUES} values per answer`;
        throw normalizeProviderError(this.provider, 400, JSON.stringify({ error: { message, type: 'invalid_request_error', param: 'dimensions', code: 'invalid_value' } }));
      }
      const base64 = request.encoding_format === 'base64';
      let tokens = 0;
      const data = inputs.map((item, index) => {
        tokens += typeof item === 'string' ? Math.max(1, words(item)) : item.length;
        const vector = mockVector(item, dims);
        return { object: 'embedding' as const, index, embedding: base64 ? encodeEmbedding(vector) : vector };
      });
      this.stats.succeed(started);
      return { object: 'list', data, model: this.model, usage: { prompt_tokens: tokens, total_tokens: tokens } };
    } catch (err) {
      this.stats.fail(started, err as ProviderError);
      throw err;
    }
  }

  async listModels(): Promise<ModelInfo[]> {
    return [{ id: this.model, object: 'model', created: 0, owned_by: 'mock' }];
  }

  async healthCheck(): Promise<boolean> {
    return !this.closed && !this.opts.unhealthy;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  counters(): AdapterCounters {
    return this.stats.snapshot();
  }

  /** Latency, then the deterministic fault sequence, then the answer. */
  private async begin(request: ChatCompletionRequest, signal: AbortSignal | undefined): Promise<MockAnswer> {
    const n = await this.latencyAndFaults(signal);
    return answerFor(request, this.opts.reply, `chatcmpl-mock-${n}`);
  }

  /** Every call, of any endpoint, counts in the one fault sequence. Resolves with the call's number. */
  private async latencyAndFaults(signal: AbortSignal | undefined): Promise<number> {
    if (this.closed) {
      throw new ProviderError({ provider: this.provider, status: 502, errorClass: 'network', message: `${this.provider}: adapter is closed` });
    }
    const n = ++this.calls;
    await delay(this.opts.latencyMs ?? 0, signal, this.provider);
    const rate = this.opts.failRate ?? 0;
    // Evenly spaced faults: call n fails when floor(n*rate) steps up (rate 0.25 -> calls 4, 8, 12, ...).
    if (rate > 0 && Math.floor(n * rate) > Math.floor((n - 1) * rate)) {
      const status = this.opts.failStatus ?? 500;
      const body = JSON.stringify({ error: { message: `mock fault injected (call ${n})`, type: 'mock_fault', code: status } });
      throw normalizeProviderError(this.provider, status, body);
    }
    return n;
  }
}

interface MockStreamInit {
  provider: string;
  model: string;
  answer: MockAnswer;
  chunks: number;
  chunkDelayMs: number;
  failAfter: number | undefined;
  includeUsage: boolean;
  signal: AbortSignal | undefined;
  onSettle: (err?: ProviderError) => void;
}

class MockStream implements ChatCompletionStream {
  private cancelled = false;
  private settled = false;
  private consumed = false;
  private usageSeen: Usage | undefined;
  private readonly created = Math.floor(Date.now() / 1000);

  constructor(private readonly init: MockStreamInit) {}

  get usage(): Usage | undefined {
    return this.usageSeen;
  }

  cancel(): void {
    this.cancelled = true;
    this.settle(aborted(this.init.provider));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ChatCompletionChunk> {
    if (this.consumed) throw new Error('ChatCompletionStream can be consumed once');
    this.consumed = true;
    const { answer, chunks, chunkDelayMs, failAfter } = this.init;
    try {
      const pieces = answer.toolCall ? [] : split(answer.text, chunks);
      yield this.chunk({ role: 'assistant', content: '' });
      if (answer.toolCall) {
        const { id, function: fn } = answer.toolCall;
        yield this.chunk({ tool_calls: [{ index: 0, id, type: 'function', function: { name: fn.name, arguments: fn.arguments } }] });
      }
      for (let i = 0; i < pieces.length; i++) {
        if (failAfter !== undefined && i >= failAfter) {
          throw new ProviderError({ provider: this.init.provider, status: 502, errorClass: 'stream_error', code: 'mock_stream_fault', message: `mock fault inside the stream after ${i} chunks` });
        }
        if (i > 0) await delay(chunkDelayMs, this.init.signal, this.init.provider);
        this.checkCancelled();
        yield this.chunk({ content: pieces[i] });
      }
      this.checkCancelled();
      yield this.chunk({}, answer.toolCall ? 'tool_calls' : 'stop');
      this.usageSeen = answer.usage;
      if (this.init.includeUsage) yield { ...this.chunk({}), choices: [], usage: answer.usage };
      this.settle();
    } catch (err) {
      const pe = err instanceof ProviderError ? err : aborted(this.init.provider);
      this.settle(pe);
      throw pe;
    } finally {
      if (!this.settled) this.settle(aborted(this.init.provider)); // consumer stopped early
    }
  }

  async *sse(): AsyncIterable<string> {
    for await (const chunk of this) yield `data: ${JSON.stringify(chunk)}\n\n`;
    yield SSE_DONE;
  }

  private checkCancelled(): void {
    if (this.cancelled || this.init.signal?.aborted) throw aborted(this.init.provider);
  }

  private chunk(delta: ChatCompletionChunk['choices'][number]['delta'], finishReason: string | null = null): ChatCompletionChunk {
    return {
      id: this.init.answer.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.init.model,
      choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
    };
  }

  private settle(err?: ProviderError): void {
    if (this.settled) return;
    this.settled = true;
    this.init.onSettle(err);
  }
}

function answerFor(request: ChatCompletionRequest, reply: string | undefined, id: string): MockAnswer {
  const lastUser = [...request.messages].reverse().find((m) => m.role === 'user');
  const text = reply ?? `mock reply to: ${textOf(lastUser?.content)}`;
  const tool = pickTool(request);
  const toolCall: ToolCall | undefined = tool ? { id: `call_mock_${id.slice(-6)}`, type: 'function', function: { name: tool, arguments: '{}' } } : undefined;
  const prompt = request.messages.reduce((n, m) => n + words(textOf(m.content)), 0);
  const completion = toolCall ? 1 : words(text);
  return { id, text, toolCall, usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } };
}

/** A tool call is answered when the caller forces one (`required` or a named function). */
// The mock reads what it is sent leniently: fields the gateway passes through unchecked (a content
// that is a number, a part that is null, an odd tool_choice) made it throw, a 500 where an upstream answers.
function pickTool(request: ChatCompletionRequest): string | undefined {
  const tc = request.tool_choice as unknown;
  if (!Array.isArray(request.tools) || request.tools.length === 0) return undefined;
  const named = (tc as { function?: { name?: unknown } } | null)?.function?.name;
  if (typeof named === 'string') return named;
  const first = (request.tools[0] as { function?: { name?: unknown } } | null)?.function?.name;
  if (tc === 'required' && typeof first === 'string') return first;
  return undefined;
}

function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (typeof (p as { text?: unknown } | null)?.text === 'string' ? (p as { text: string }).text : '')).join('');
}

/**
 * A unit vector drawn from the SHA-256 of the input: deterministic across processes, and every value is
 * a float32 so the base64 encoding decodes to exactly the same numbers.
 */
function mockVector(input: string | number[], dims: number): number[] {
  const seed = createHash('sha256').update(typeof input === 'string' ? `s:${input}` : `t:${input.join(',')}`).digest();
  let state = seed.readUInt32LE(0) || 1;
  const v = new Array<number>(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    // xorshift32: cheap, and plenty for test vectors.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    v[i] = state / 0x80000000 - 1;
    norm += v[i]! * v[i]!;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 1;
  for (let i = 0; i < dims; i++) v[i] = Math.fround(v[i]! * scale);
  return v;
}

function words(s: string): number {
  const t = s.trim();
  return t ? t.split(/\s+/).length : 0;
}

/** Split into `n` contiguous pieces of near-equal length (fewer if the text is shorter). */
function split(text: string, n: number): string[] {
  if (text.length <= n) return text ? [...text] : [''];
  const size = Math.ceil(text.length / n);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

async function delay(ms: number, signal: AbortSignal | undefined, provider: string): Promise<void> {
  if (signal?.aborted) throw aborted(provider);
  if (ms <= 0) return;
  try {
    await sleep(ms, undefined, signal ? { signal } : undefined);
  } catch {
    throw aborted(provider);
  }
}

function aborted(provider: string): ProviderError {
  return new ProviderError({ provider, status: 499, errorClass: 'aborted', message: 'request aborted by the caller' });
}
