import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { capText } from '../config/index.js';
import { ANTHROPIC_REQUEST_ID_HEADER, isAnthropicPath, toAnthropicErrorReply } from './anthropic/errors.js';
import { GatewayHttpError, toErrorReply } from './errors.js';

/**
 * The HTTP edge: what happens to a request before any route sees it (request ids, JSON depth)
 * and the answers fastify or Node would otherwise give in their own shapes (bad URL, header
 * overflow, a body that never finishes), in the error shape of the API the path belongs to:
 * Anthropic's for `/v1/messages…`, OpenAI's for the rest.
 */

export const REQUEST_ID_HEADER = 'x-request-id';

/** A client's id is kept when it is short and plain (it goes into every log line and back in a header). */
const CLIENT_ID_RE = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** fastify `genReqId`: the client's `x-request-id` if sane, else a new UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && CLIENT_ID_RE.test(given) ? given : randomUUID();
}

/**
 * True when `json` nests objects/arrays deeper than `max`. One linear pass that skips string
 * contents, run before `JSON.parse`: a ~10 KB body nested 5,000 deep parses fine and then makes
 * every later `JSON.stringify` throw `RangeError`.
 */
export function jsonDepthExceeds(json: string, max: number): boolean {
  // Depth can only exceed `max` with more than `max` opening brackets.
  if (json.length <= max) return false;
  let depth = 0;
  const n = json.length;
  for (let i = 0; i < n; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Jump to the closing quote (one not preceded by an odd run of backslashes).
      for (;;) {
        const q = json.indexOf('"', i + 1);
        if (q === -1) return false; // unterminated: JSON.parse reports it
        let b = q - 1;
        while (json.charCodeAt(b) === 0x5c /* \ */) b--;
        i = q;
        if ((q - 1 - b) % 2 === 0) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}

type JsonParser = (request: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => void;

/**
 * A fastify string body parser that refuses bodies nested deeper than `max()` before `parse` runs.
 * A function, read per body: `server.maxJsonDepth` changes on reload.
 */
export function depthChecked(parse: JsonParser, max: () => number): JsonParser {
  return (request, body, done) => {
    const limit = max();
    const encoding = request.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') done(unsupportedEncoding(encoding), undefined);
    else if (jsonDepthExceeds(body, limit)) done(tooDeep(limit), undefined);
    else parse(request, body, done);
  };
}

/**
 * fastify's parser with its `__proto__` check on refuses a body with that key as "not valid JSON",
 * though it is valid JSON. Told as what it is: a key this route does not take. Only failures pay for
 * the second parse that tells the two apart.
 */
export function protoKeysExplained(parse: JsonParser): JsonParser {
  return (request, body, done) =>
    parse(request, body, (err, parsed) => {
      if (err === null || (err as { code?: string }).code !== 'FST_ERR_CTP_INVALID_JSON_BODY') return done(err, parsed);
      try {
        JSON.parse(body);
      } catch {
        return done(err, undefined);
      }
      done(forbiddenKey(), undefined);
    });
}

const forbiddenKey = (): GatewayHttpError =>
  new GatewayHttpError(400, 'The JSON body has a "__proto__" key, which this endpoint does not accept: remove it.', 'invalid_request_error', 'invalid_value');

/**
 * A compressed body (`content-encoding: gzip`, …) was read as text and would fail as "invalid JSON";
 * the gateway takes bodies as they are (RFC 7694: 415 for a content coding it does not take).
 */
const unsupportedEncoding = (encoding: string): GatewayHttpError =>
  new GatewayHttpError(415, `Request bodies with content-encoding ${JSON.stringify(capText(encoding, 40))} are not accepted: send the JSON body uncompressed.`, 'invalid_request_error', 'unsupported_content_encoding');

const tooDeep = (max: number): GatewayHttpError =>
  new GatewayHttpError(400, `The JSON body is nested more than ${max} levels deep (server.maxJsonDepth).`, 'invalid_request_error', 'invalid_value');

/** fastify's `maxParamLength` (its default): a longer path parameter answers 414. */
export const MAX_PARAM_LENGTH = 100;

export const urlTooLong = (): GatewayHttpError => new GatewayHttpError(414, 'The request URL is too long.', 'invalid_request_error', 'url_too_long');

const badUrl = (): GatewayHttpError => new GatewayHttpError(400, 'The request URL is not valid (bad percent-encoding).', 'invalid_request_error', 'invalid_url');

/** The status and body of `err` in the shape of the API that `url` belongs to. */
function shapedFor(url: string | undefined, err: GatewayHttpError): { anthropic: boolean; status: number; body: unknown } {
  const anthropic = url !== undefined && isAnthropicPath(url.split('?', 1)[0]!);
  const r = anthropic ? toAnthropicErrorReply(err) : toErrorReply(err);
  return { anthropic, status: r.status, body: r.body };
}

/** fastify `frameworkErrors`: a URL it cannot decode (`/v1/models/%ff`) or a path parameter too long. */
export function frameworkErrorReply(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const r = shapedFor(request.url, err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? urlTooLong() : badUrl());
  reply.header(REQUEST_ID_HEADER, request.id);
  if (r.anthropic) reply.header(ANTHROPIC_REQUEST_ID_HEADER, request.id);
  void reply.code(r.status).send(r.body);
}

/**
 * fastify `clientErrorHandler`: Node found the request unreadable before any route ran (bad
 * HTTP, headers too large, the body not received within `server.bodyTimeout`). Answers in the
 * API's shape when the socket can still take an answer, then closes it.
 */
export function clientErrorReply(err: NodeJS.ErrnoException, socket: Socket, onTimeout?: () => void): void {
  // A reset socket has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let error: GatewayHttpError;
  let reason: string;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    onTimeout?.();
    reason = 'Request Timeout';
    error = new GatewayHttpError(408, 'The request was not received in time (server.bodyTimeout).', 'invalid_request_error', 'request_timeout');
  } else if (err.code === 'HPE_HEADER_OVERFLOW' && requestLineTooLong(err)) {
    reason = 'URI Too Long';
    error = urlTooLong();
  } else if (err.code === 'HPE_HEADER_OVERFLOW') {
    reason = 'Request Header Fields Too Large';
    error = new GatewayHttpError(431, 'The request headers are too large.', 'invalid_request_error', 'request_header_too_large');
  } else {
    reason = 'Bad Request';
    error = new GatewayHttpError(400, 'The HTTP request could not be parsed.', 'invalid_request_error', 'bad_request');
  }
  // The request whose body timed out, when its head was read: its URL picks the error shape.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean; req?: IncomingMessage } })._httpMessage;
  // Never write into a response that already started on this socket (Node's own rule).
  if (socket.writable && !inFlight?.headersSent) {
    const r = shapedFor(inFlight?.req?.url, error);
    const body = JSON.stringify(r.body);
    const id = randomUUID();
    socket.end(
      `HTTP/1.1 ${r.status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `${REQUEST_ID_HEADER}: ${id}\r\n${r.anthropic ? `${ANTHROPIC_REQUEST_ID_HEADER}: ${id}\r\n` : ''}Connection: close\r\n\r\n${body}`,
    );
    // end() flushes then closes; a client that never reads must not keep the socket.
    setTimeout(() => socket.destroy(), 1000).unref();
    return;
  }
  socket.destroy();
}

/** A request line this long is the URL's fault, not the headers' (Node's limit covers both: 16 KB). */
const LONG_REQUEST_LINE = 8 * 1024;

/**
 * The header-size overflow was the request line: the bytes Node read (`rawPacket`) start a request
 * (`METHOD /…`) whose first line does not end within `LONG_REQUEST_LINE` bytes.
 */
function requestLineTooLong(err: Error): boolean {
  const raw = (err as Error & { rawPacket?: Buffer }).rawPacket;
  if (raw === undefined || !/^[A-Z]{3,7} \//.test(raw.subarray(0, 9).toString('latin1'))) return false;
  const eol = raw.indexOf('\r\n');
  return eol === -1 || eol > LONG_REQUEST_LINE;
}

/**
 * Close a connection that sends no request within `ms`. Node's request and headers timeouts start
 * with a request's first byte, so a connection that never sends one was never cut: enough of them
 * fill `server.maxConnections` and lock every other client out. Cleared when a request arrives; later
 * idle time between requests is `keepAliveTimeout`'s (Node sets it after each response).
 */
export function closeSilentConnections(server: Server, ms: number): void {
  // Node's own timeout handler destroys a socket when nobody else handles its 'timeout'.
  server.on('connection', (socket: Socket) => socket.setTimeout(ms));
  server.on('request', (req: IncomingMessage) => req.socket.setTimeout(0));
}
