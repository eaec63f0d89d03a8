import { Client, errors, type Dispatcher } from 'undici';
import { ProviderError, tooLargeError } from './errors.js';
import type { ProviderTimeouts } from './types.js';

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

export type TransportResponse = Dispatcher.ResponseData;

/** Response headers: lower-case names; a repeated header's values in an array. */
export type ResponseHeaders = Record<string, string | string[]>;

/** A response read whole (`HttpTransport.fetch`). */
export interface WholeResponse {
  statusCode: number;
  headers: ResponseHeaders;
  /** The body, UTF-8 decoded. */
  text: string;
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
   * Send one request. No AbortController, no pipeline: the caller's signal goes straight to undici,
   * which aborts the request (and destroys the socket) the moment it fires.
   * The caller must consume the returned body, or `abandon()` it.
   */
  async request(req: TransportRequest, provider: string): Promise<TransportResponse> {
    try {
      return await this.connection().request({
        method: req.method,
        path: this.resolvePath(req.path),
        headers: req.headers,
        body: req.body,
        signal: req.signal,
      });
    } catch (err) {
      // Whatever failed (abort, timeout, reset), its socket is gone: do not let undici replace it now.
      this.discard();
      throw transportError(provider, err, req.signal, this.timeouts);
    }
  }

  /**
   * Send one request and read its response whole, at most `maxBytes` of body (over it: 502
   * `upstream_response_too_large`, the socket dropped as the cap is crossed). Rejects with the
   * ProviderError of a failed exchange; any status resolves.
   *
   * Why not `request()` plus reading its body: that API makes a Readable stream, an async resource
   * and a listener set per response, which a body read whole never needs; undici's own handler
   * interface takes the chunks directly (~3 KB less allocated per call).
   */
  fetch(req: TransportRequest, provider: string, maxBytes: number): Promise<WholeResponse> {
    return new Promise<WholeResponse>((resolve, reject) => {
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
        new WholeBodyHandler(req.signal, maxBytes, resolve, fail, tooLarge),
      );
    });
  }

  /** The current connection, made on first use (and after a `discard()`); throws once closed. */
  private connection(): Client {
    if (this.closed) throw new ClientDestroyedError();
    return (this.client ??= new Client(this.origin, this.clientOptions));
  }

  /** Give up a response before its end: its socket is destroyed and the next request connects afresh. */
  abandon(body: TransportResponse['body']): void {
    destroyBody(body);
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

/**
 * undici's handler interface (the one its own `request()` is built on) for a body read whole: chunks
 * kept until the end, the cap checked per chunk, the caller's signal aborting the exchange.
 *
 * A finished handler stays referenced for a while after the end (undici's finished request points
 * to it), so it lets go of the body, the caller's callbacks and the signal the moment it finishes.
 * Holding them made ~1.3 KB per request outlive two scavenges into the old generation: a mark-compact
 * every second and a 2-3 ms longer p99 at one connection.
 */
export class WholeBodyHandler implements Dispatcher.DispatchHandler {
  private abort: ((err: Error) => void) | undefined;
  private statusCode = 0;
  private rawHeaders: Buffer[] = NO_HEADERS;
  private chunks: Buffer[] = [];
  private length = 0;
  private done = false;
  private signal: AbortSignal | undefined;
  private onAbort: (() => void) | undefined;
  private resolve: (r: WholeResponse) => void;
  private reject: (err: unknown) => void;
  private tooLarge: (() => ProviderError) | undefined;
  private readonly maxBytes: number;

  constructor(signal: AbortSignal | undefined, maxBytes: number, resolve: (r: WholeResponse) => void, reject: (err: unknown) => void, tooLarge: () => ProviderError) {
    this.signal = signal;
    this.maxBytes = maxBytes;
    this.resolve = resolve;
    this.reject = reject;
    this.tooLarge = tooLarge;
    if (signal !== undefined) {
      this.onAbort = () => this.cancel(signal.reason);
      signal.addEventListener('abort', this.onAbort);
    }
  }

  onConnect(abort: (err?: Error) => void): void {
    // Cancelled before undici started it (the caller's signal, already or meanwhile): stop it here.
    if (this.done) {
      abort(new errors.RequestAbortedError());
      return;
    }
    this.abort = abort;
    if (this.signal?.aborted) this.cancel(this.signal.reason);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (this.done || statusCode < 200) return true; // 1xx: the response is still to come
    this.statusCode = statusCode;
    this.rawHeaders = rawHeaders;
    if (declaredLength(rawHeaders) > this.maxBytes) this.cancel(this.tooLarge!());
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return true;
    this.length += chunk.length;
    if (this.length > this.maxBytes) this.cancel(this.tooLarge!());
    else this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.done) return;
    const { chunks: c, length, resolve } = this;
    const response = new ReadResponse(this.statusCode, this.rawHeaders, c.length === 1 ? c[0]!.toString('utf8') : Buffer.concat(c, length).toString('utf8'));
    this.finish();
    resolve(response);
  }

  onError(err: Error): void {
    if (this.done) return;
    const reject = this.reject;
    this.finish();
    reject(err);
  }

  /** End the exchange with `err` (undici then drops the socket; `onError` follows, ignored). */
  private cancel(err: unknown): void {
    if (this.done) return;
    const { reject, abort } = this;
    this.finish();
    reject(err ?? new errors.RequestAbortedError());
    abort?.(err instanceof Error ? err : new errors.RequestAbortedError());
  }

  private finish(): void {
    this.done = true;
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    this.signal = undefined;
    this.onAbort = undefined;
    this.abort = undefined;
    this.chunks = [];
    this.rawHeaders = NO_HEADERS;
    this.resolve = noop;
    this.reject = noop;
    this.tooLarge = undefined;
  }
}

const NO_HEADERS: Buffer[] = [];

/**
 * A response read whole, its headers parsed on first read: a 2xx answer's are never read (only a
 * failure's are, for its Retry-After and error shape), and parsing them cost ~1.5 µs a request.
 */
class ReadResponse implements WholeResponse {
  private parsed: ResponseHeaders | undefined;
  constructor(
    readonly statusCode: number,
    private readonly raw: Buffer[],
    readonly text: string,
  ) {}

  get headers(): ResponseHeaders {
    return (this.parsed ??= parseRawHeaders(this.raw));
  }
}

/** The `content-length` in undici's raw header list, without parsing the rest (NaN when absent). */
function declaredLength(raw: Buffer[]): number {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 14 && name.toString('latin1').toLowerCase() === 'content-length') return Number(raw[i + 1]!.toString('latin1'));
  }
  return NaN;
}

/** undici's raw header list (name, value, name, value … as bytes) as lower-case names → values. */
function parseRawHeaders(raw: Buffer[]): ResponseHeaders {
  const headers: ResponseHeaders = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    const seen = headers[name];
    if (seen === undefined) headers[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else headers[name] = [seen, value];
  }
  return headers;
}

/**
 * Let go of a response body we will not read: undici then aborts the request and drops the socket.
 * A destroyed body emits 'error' (RequestAbortedError); with nobody listening that would crash the process.
 */
export function destroyBody(body: TransportResponse['body']): void {
  if (body.destroyed) return;
  body.on('error', noop);
  body.destroy();
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
