import { Client, errors, type Dispatcher } from 'undici';
import { ProviderError, tooLargeError } from './errors.js';
import { StreamedBodyHandler, WholeBodyHandler, type ResponseBody, type StreamedResponse, type WholeResponse } from './response-handlers.js';
import type { ProviderTimeouts } from './types.js';

export { StreamedBodyHandler, WholeBodyHandler };
export type { ResponseBody, ResponseHeaders, StreamedResponse, WholeResponse } from './response-handlers.js';

const { ClientDestroyedError } = errors;

/** Defaults: reasoning models may think for minutes before the first byte, so that one is long. */
export const DEFAULT_TIMEOUTS: Readonly<ProviderTimeouts> = {
  connectMs: 10_000,
  firstByteMs: 300_000,
  idleMs: 60_000,
};

/**
 * How long an idle keep-alive socket is kept. Servers announce their own limit (`Keep-Alive: timeout=5`)
 * and undici honours the smaller one, minus a threshold, so we never write to a socket the server is closing.
 */
const KEEP_ALIVE_MS = 30_000;

export interface TransportRequest {
  method: 'GET' | 'POST';
  /** Path relative to the base URL, e.g. `/chat/completions`. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

/**
 * One adapter's HTTP connection to its provider.
 *
 * Why an undici `Client` and not a `Pool`: a `Client` is exactly one socket, and the adapter pool lends an
 * adapter to one request at a time — so N adapters for a `model:provider` means at most N upstream
 * connections, and pooling adapters *is* pooling connections (measurable on the upstream side).
 * `pipelining: 1` keeps one request per socket at a time; keep-alive reuses the socket across loans.
 * A one-connection `Pool` would add a dispatch layer for no gain and could replace the socket behind our back.
 *
 * A request given up before its end (the caller hung up, a bad stream, a cap) destroys its socket, and
 * undici 7 then opens a fresh connection for the aborted request it still holds, which carries nothing
 * and idles until the keep-alive timeout: two upstream connections per hang-up. So an abandoned
 * request retires its `Client` (`discard()`), and the next request connects lazily, on a new one.
 */
export class HttpTransport {
  readonly origin: string;
  readonly timeouts: Readonly<ProviderTimeouts>;
  private readonly basePath: string;
  private readonly baseQuery: string;
  private readonly clientOptions: Client.Options;
  private client: Client | undefined;
  private closed = false;

  constructor(baseUrl: string, timeouts?: Partial<ProviderTimeouts>) {
    const url = new URL(baseUrl);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.baseQuery = url.search.slice(1);
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...definedOnly(timeouts) };
    this.clientOptions = {
      pipelining: 1,
      connect: { timeout: this.timeouts.connectMs },
      headersTimeout: this.timeouts.firstByteMs,
      bodyTimeout: this.timeouts.idleMs,
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: KEEP_ALIVE_MS,
    };
  }

  /** Full request path: base path + `path`, with the base URL's query (e.g. Azure `api-version`) merged in. */
  resolvePath(path: string): string {
    if (!this.baseQuery) return this.basePath + path;
    return this.basePath + path + (path.includes('?') ? '&' : '?') + this.baseQuery;
  }

  /**
   * Send one request and read its response whole, at most `maxBytes` of body (over it: 502
   * `upstream_response_too_large`, the socket dropped as the cap is crossed). Rejects with the
   * ProviderError of a failed exchange; any status resolves.
   */
  fetch(req: TransportRequest, provider: string, maxBytes: number): Promise<WholeResponse> {
    return this.dispatch(req, provider, maxBytes, WholeBodyHandler);
  }

  /**
   * Send one request whose answer is read as it comes (a stream): resolves at the headers with the body
   * to pull, or with the body read whole (up to `maxBytes`) for an error status or a JSON answer.
   * The caller must read the body to its end, or `abandon()` it.
   */
  stream(req: TransportRequest, provider: string, maxBytes: number): Promise<StreamedResponse> {
    return this.dispatch(req, provider, maxBytes, StreamedBodyHandler);
  }

  /**
   * No AbortController, no pipeline: the caller's signal goes straight to the handler, which aborts
   * the exchange (and undici destroys the socket) the moment it fires.
   */
  private dispatch<R>(
    req: TransportRequest,
    provider: string,
    maxBytes: number,
    Handler: new (signal: AbortSignal | undefined, maxBytes: number, resolve: (r: R) => void, reject: (err: unknown) => void, tooLarge: () => ProviderError) => Dispatcher.DispatchHandler,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const fail = (err: unknown) => {
        // Whatever failed (abort, timeout, reset, the cap), its socket is gone: do not let undici replace it now.
        this.discard();
        reject(err instanceof ProviderError ? err : transportError(provider, err, req.signal, this.timeouts));
      };
      let client: Client;
      try {
        client = this.connection();
      } catch (err) {
        fail(err);
        return;
      }
      const tooLarge = () => tooLargeError(provider, `${provider}: the upstream response exceeds maxResponseSize (${maxBytes} bytes)`);
      client.dispatch(
        { method: req.method, path: this.resolvePath(req.path), headers: req.headers, body: req.body ?? null },
        new Handler(req.signal, maxBytes, resolve, fail, tooLarge),
      );
    });
  }

  /** The current connection, made on first use (and after a `discard()`); throws once closed. */
  private connection(): Client {
    if (this.closed) throw new ClientDestroyedError();
    return (this.client ??= new Client(this.origin, this.clientOptions));
  }

  /** Give up a streamed body before its end: its socket is destroyed and the next request connects afresh. */
  abandon(body: ResponseBody): void {
    body.cancel();
    this.discard();
  }

  /** Retire the current connection; the next request opens a new one (lazily). */
  discard(): void {
    const client = this.client;
    if (client === undefined) return;
    this.client = undefined;
    if (!client.destroyed) client.destroy().catch(noop);
  }

  close(): Promise<void> {
    // destroy(), not close(): close() waits for in-flight requests, and a pool closing an adapter means "now".
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    return client === undefined || client.destroyed ? Promise.resolve() : client.destroy();
  }
}

function noop(): void {}

/** undici / socket failure -> ProviderError (timeout 504, network 502, caller abort 499). */
export function transportError(
  provider: string,
  err: unknown,
  signal: AbortSignal | undefined,
  timeouts: Readonly<ProviderTimeouts> = DEFAULT_TIMEOUTS,
): ProviderError {
  if (err instanceof ProviderError) return err;
  const code = (err as { code?: string } | null)?.code;
  const name = (err as { name?: string } | null)?.name;
  if (signal?.aborted || code === 'UND_ERR_ABORTED' || name === 'AbortError') {
    return new ProviderError({ provider, status: 499, errorClass: 'aborted', message: 'request aborted by the caller', cause: err });
  }
  const timeout = (what: string, ms: number) =>
    new ProviderError({ provider, status: 504, errorClass: 'timeout', code: 'timeout', message: `${provider}: ${what} (${ms} ms)`, cause: err });
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return timeout('connect timeout', timeouts.connectMs);
    case 'UND_ERR_HEADERS_TIMEOUT':
      return timeout('no response within the first-byte timeout', timeouts.firstByteMs);
    case 'UND_ERR_BODY_TIMEOUT':
      return timeout('upstream idle for longer than the idle timeout', timeouts.idleMs);
  }
  const detail = err instanceof Error ? err.message : String(err);
  return new ProviderError({
    provider,
    status: 502,
    errorClass: 'network',
    code: code ?? 'network_error',
    message: `${provider}: connection failed: ${detail}`,
    cause: err,
  });
}

function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  if (!o) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
