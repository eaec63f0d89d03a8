import type { PoolLogger } from '../pool/types.js';
import { ProviderError } from './errors.js';
import { RequestCounters } from './counters.js';
import { readError, type ReadContext } from './http-util.js';
import { scrubberFor, type SecretScrubber } from './scrub.js';
import { normalizeProviderError } from './normalize-error.js';
import { HttpTransport, transportError, type TransportRequest, type TransportResponse, type WholeResponse } from './transport.js';
import type { UpstreamBody, UpstreamStreamContext } from './upstream-stream.js';
import type {
  AdapterCounters,
  CallOptions,
  ChatAdapter,
  ChatCompletion,
  ChatCompletionRequest,
  ChatCompletionStream,
  ModelInfo,
  ProviderTimeouts,
} from './types.js';

export interface HttpAdapterOptions {
  /** Provider name as configured. */
  provider: string;
  type: string;
  /** Upstream model id. */
  model: string;
  baseUrl: string;
  /** Only used to scrub it from error messages; the auth header is in `headers`. */
  apiKey?: string;
  /** Every request's headers, auth included. */
  headers: Record<string, string>;
  /**
   * Removes the provider's secrets from everything that leaves the adapter; built once per provider
   * config (`scrubberOf(config)`). Default: one built from `apiKey`, `headers` and `baseUrl`.
   */
  scrubber?: SecretScrubber;
  timeouts?: Partial<ProviderTimeouts>;
  /** Bytes one non-streamed response may take (default `DEFAULT_MAX_RESPONSE_SIZE`). */
  maxResponseSize?: number;
  /** Bytes one SSE event of a stream may take (default `DEFAULT_MAX_EVENT_SIZE`). */
  maxEventSize?: number;
  healthCheck?: 'models' | 'completion';
  logger?: PoolLogger;
}

/** Settles a stream's counters entry; passed to the subclass that builds the stream. */
export type StreamSettle = (err?: ProviderError) => void;

/** Fits real completions (long reasoning, many tool calls) with room to spare; a runaway upstream stops here. */
export const DEFAULT_MAX_RESPONSE_SIZE = 16 * 1024 * 1024;
/** One streamed chunk: a few hundred bytes normally; a whole tool call or image in one event stays well under. */
export const DEFAULT_MAX_EVENT_SIZE = 8 * 1024 * 1024;

/**
 * What every HTTP adapter shares: its transport (one keep-alive connection), counters, health check
 * and error plumbing. Subclasses only build requests and read responses.
 */
export abstract class HttpChatAdapter implements ChatAdapter {
  readonly provider: string;
  readonly type: string;
  readonly model: string;
  protected readonly transport: HttpTransport;
  protected readonly headers: Record<string, string>;
  protected readonly scrubber: SecretScrubber;
  protected readonly maxEventSize: number;
  protected readonly logger: PoolLogger | undefined;
  private readonly stats = new RequestCounters();
  private readonly healthMode: 'models' | 'completion';
  private readonly baseReadContext: ReadContext;

  constructor(opts: HttpAdapterOptions) {
    this.provider = opts.provider;
    this.type = opts.type;
    this.model = opts.model;
    this.headers = opts.headers;
    this.scrubber = opts.scrubber ?? scrubberFor({ apiKey: opts.apiKey, headers: opts.headers, baseUrl: opts.baseUrl });
    this.maxEventSize = opts.maxEventSize ?? DEFAULT_MAX_EVENT_SIZE;
    this.logger = opts.logger;
    this.healthMode = opts.healthCheck ?? 'models';
    this.transport = new HttpTransport(opts.baseUrl, opts.timeouts);
    this.baseReadContext = {
      provider: this.provider,
      signal: undefined,
      timeouts: this.transport.timeouts,
      scrubber: this.scrubber,
      maxResponseSize: opts.maxResponseSize ?? DEFAULT_MAX_RESPONSE_SIZE,
      abandon: (body) => this.transport.abandon(body),
    };
  }

  protected abstract complete(request: ChatCompletionRequest, signal: AbortSignal | undefined): Promise<ChatCompletion>;
  protected abstract openStream(request: ChatCompletionRequest, signal: AbortSignal | undefined, settle: StreamSettle): Promise<ChatCompletionStream>;
  abstract listModels(options?: CallOptions): Promise<ModelInfo[]>;

  async chatCompletion(request: ChatCompletionRequest, options?: CallOptions): Promise<ChatCompletion> {
    const started = this.stats.start();
    try {
      const result = await this.complete(request, options?.signal);
      this.stats.succeed(started);
      return result;
    } catch (err) {
      if (isOwnError(err, options?.signal)) {
        this.stats.unsent();
        throw err;
      }
      throw this.failed(started, err, options?.signal);
    }
  }

  /**
   * Resolves once the upstream answered 200 and its first data event arrived and was validated
   * (`openStream` reads it); anything before that rejects with the ProviderError, counted once.
   */
  async chatCompletionStream(request: ChatCompletionRequest, options?: CallOptions): Promise<ChatCompletionStream> {
    return this.countedStream(options?.signal, (settle) => this.openStream(request, options?.signal, settle));
  }

  /**
   * Open a stream (of any endpoint) with the counters of a chat stream: `open` gets the settle callback
   * the stream calls once at its end; a failure to open is settled here, counted once.
   */
  protected async countedStream<S>(signal: AbortSignal | undefined, open: (settle: StreamSettle) => Promise<S>): Promise<S> {
    const started = this.stats.start();
    let settled = false;
    const settle: StreamSettle = (err) => {
      if (settled) return;
      settled = true;
      if (err) {
        this.stats.fail(started, err);
        this.log(err);
      } else {
        this.stats.succeed(started);
      }
    };
    try {
      return await open(settle);
    } catch (err) {
      if (isOwnError(err, signal)) {
        this.stats.unsent();
        throw err;
      }
      const pe = this.scrubber.error(err instanceof ProviderError ? err : transportError(this.provider, err, signal, this.transport.timeouts));
      settle(pe);
      throw pe;
    }
  }

  /**
   * Run one upstream call of another endpoint (embeddings, a passed-through request) with the same
   * counters, logging and error mapping as a chat completion.
   */
  protected async counted<T>(signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    const started = this.stats.start();
    try {
      const result = await call();
      this.stats.succeed(started);
      return result;
    } catch (err) {
      if (isOwnError(err, signal)) {
        this.stats.unsent();
        throw err;
      }
      throw this.failed(started, err, signal);
    }
  }

  /** What a stream of this adapter needs to read its body. */
  protected streamContext(body: UpstreamBody, signal: AbortSignal | undefined, settle: StreamSettle): UpstreamStreamContext {
    return {
      provider: this.provider,
      body,
      signal,
      timeouts: this.transport.timeouts,
      scrubber: this.scrubber,
      maxEventSize: this.maxEventSize,
      abandon: this.baseReadContext.abandon,
      onSettle: settle,
    };
  }

  /** Cheap by default (`GET /models`: key and reachability); `completion` spends a one-token call. Rejects with the ProviderError. */
  async healthCheck(): Promise<boolean> {
    if (this.healthMode === 'completion') {
      await this.complete({ model: this.model, messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 }, undefined);
    } else {
      await this.listModels();
    }
    return true;
  }

  counters(): AdapterCounters {
    return this.stats.snapshot();
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  /** How to read a response of a call with this signal (no allocation on the common no-signal path). */
  protected readContext(signal: AbortSignal | undefined): ReadContext {
    return signal ? { ...this.baseReadContext, signal } : this.baseReadContext;
  }

  /** Send and read the response whole (up to `maxResponseSize`); a non-2xx status becomes a normalized ProviderError. */
  protected async fetch(req: TransportRequest): Promise<WholeResponse> {
    const res = await this.transport.fetch(req, this.provider, this.baseReadContext.maxResponseSize);
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    throw normalizeProviderError(this.provider, res.statusCode, res.text, res.headers, { scrubber: this.scrubber });
  }

  /** Send, for a body read as it comes (a stream); a non-2xx status becomes a normalized ProviderError (its body consumed). */
  protected async send(req: TransportRequest): Promise<TransportResponse> {
    const res = await this.transport.request(req, this.provider);
    if (res.statusCode >= 200 && res.statusCode < 300) return res;
    throw await readError(res, this.readContext(req.signal));
  }

  private failed(started: number, err: unknown, signal: AbortSignal | undefined): ProviderError {
    const pe = this.scrubber.error(err instanceof ProviderError ? err : transportError(this.provider, err, signal, this.transport.timeouts));
    this.stats.fail(started, pe);
    this.log(pe);
    return pe;
  }

  private log(err: ProviderError): void {
    if (err.errorClass === 'aborted') return;
    this.logger?.debug?.(
      { provider: this.provider, model: this.model, status: err.status, errorClass: err.errorClass, code: err.body.error.code },
      `upstream call failed: ${err.message}`,
    );
  }
}

/**
 * An error raised in our own process (a body JSON.stringify cannot serialize, a bug), not by the
 * upstream or the connection: it passes through unchanged so routing does not blame the deployment.
 * Connection and read errors are ProviderErrors already, or carry a `code` (undici, node sockets),
 * or are aborts.
 */
function isOwnError(err: unknown, signal: AbortSignal | undefined): boolean {
  if (err instanceof ProviderError || !(err instanceof Error) || signal?.aborted === true) return false;
  return (err as { code?: unknown }).code === undefined && err.name !== 'AbortError';
}
