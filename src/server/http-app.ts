import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { capText, type GatewayConfig } from '../config/index.js';
import { ANTHROPIC_REQUEST_ID_HEADER, isAnthropicPath } from './anthropic/errors.js';
import { answerError } from './error-reply.js';
import { clientErrorReply, closeSilentConnections, depthChecked, frameworkErrorReply, MAX_PARAM_LENGTH, protoKeysExplained, REQUEST_ID_HEADER, requestId } from './edge.js';
import { errorBody, shuttingDown } from './errors.js';
import { LazyChildLogger } from './lazy-logger.js';
import type { ConfigHolder } from './live/snapshot.js';
import { anthropicErrorHandler } from './routes/messages.js';
import type { Lifecycle } from './types.js';

/** The gateway's fastify instance, before any route: what the routes and a reload need of it. */
export interface HttpApp {
  app: FastifyInstance;
  /** Apply `server.maxConnections` (a reload calls it with the new value). */
  capConnections(max: number): void;
  /** The running config's `server.maxJsonDepth` (the chat routes' own parser reads it too). */
  maxJsonDepth(): number;
}

/**
 * The HTTP side of the gateway before any route: fastify with the server settings (timeouts, body
 * limit, request ids, framework and client errors in the APIs' shapes), the connection cap, the
 * JSON-only body parser, the request-id and shutdown hook, the error and not-found handlers, and the
 * request fields the routes decorate. `config` is the start's; settings a reload may change are read
 * from `live` (or applied through `capConnections`).
 */
export function createHttpApp(config: GatewayConfig, logger: Logger, live: ConfigHolder, lifecycle: Lifecycle): HttpApp {
  const server = config.server;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request lines cost on the hot path; `logging.level: debug` adds one line per response instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: server.bodyLimit,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    keepAliveTimeout: server.keepAliveTimeout,
    // Headers and body must arrive within bodyTimeout (Node answers through clientErrorHandler: 408).
    requestTimeout: server.bodyTimeout,
    http: {
      requestTimeout: server.bodyTimeout,
      headersTimeout: Math.min(60_000, server.bodyTimeout),
      // How often Node looks for requests over the timeout: the timeout's precision.
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(server.bodyTimeout / 4))),
    },
    // Our own 503 (below) answers in the API's error shape.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    requestIdHeader: false,
    genReqId: requestId,
    // Without fastify's `level`: it is the level the logger had when the routes were registered (the
    // gateway sets no per-route levels), and a child pinned to it ignores a reloaded `logging.level`.
    childLoggerFactory: (parent, bindings) => new LazyChildLogger(parent as Logger, bindings, undefined),
    frameworkErrors: frameworkErrorReply,
    clientErrorHandler: (err, socket) =>
      clientErrorReply(err, socket, () => logger.info({ event: 'body_timeout', timeoutMs: server.bodyTimeout }, 'request cut: not received within server.bodyTimeout')),
    // Validate without rewriting the body: no coercion, no removed or defaulted fields. `verbose` puts the
    // failing schema on each error, so a field with several forms (anyOf) is told by its description.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, verbose: true } },
  });
  const capConnections = (max: number) => {
    // 0 = no cap; Node reads the property at each new connection, so a reload applies at once.
    app.server.maxConnections = max > 0 ? max : Infinity;
  };
  capConnections(server.maxConnections);
  closeSilentConnections(app.server, server.bodyTimeout);
  let lastDropLog = 0;
  app.server.on('drop', () => {
    // At most one line a minute: a flood of refused connections must not flood the log.
    if (Date.now() - lastDropLog < 60_000) return;
    lastDropLog = Date.now();
    logger.warn({ event: 'connection_refused', maxConnections: live.current.config.server.maxConnections }, 'connection refused: server.maxConnections reached');
  });

  // Only JSON bodies, depth-checked before they are parsed; anything else is 415.
  const maxJsonDepth = () => live.current.config.server.maxJsonDepth;
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, depthChecked(protoKeysExplained(app.getDefaultJsonParser('error', 'ignore')), maxJsonDepth));

  // Callback-style: a synchronous check needs no promise per request.
  app.addHook('onRequest', (request, reply, done) => {
    // On the reply, not the raw response: with nothing set on the raw response before writeHead, Node
    // takes its fast path (no per-header setHeader validation and copy, ~1 µs a request). Hijacked
    // (SSE) replies write their own head and put it there (routes/chat.ts, routes/messages.ts).
    reply.header(REQUEST_ID_HEADER, request.id);
    if (lifecycle.state === 'closing') {
      reply.header('connection', 'close');
      done(shuttingDown());
      return;
    }
    done();
  });
  app.setErrorHandler((err, request, reply) => {
    // An unknown URL of Anthropic's API whose body failed before its 404 (bad JSON, too large): its shape, like the 404.
    if (request.is404 && isAnthropicPath(request.url.split('?')[0]!)) return anthropicErrorHandler(err, request, reply);
    return answerError(err, request, reply);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    const message = `Unknown request URL: ${request.method} ${capText(path, 200)}.`;
    // The rest of Anthropic's Messages API (batches, ...) is not served: tell its SDK in its own shape,
    // with the id where it reads it (`error.requestID`), as on the served Anthropic routes.
    if (isAnthropicPath(path)) {
      reply.header(ANTHROPIC_REQUEST_ID_HEADER, request.id);
      return reply.code(404).send({ type: 'error', error: { type: 'not_found_error', message } });
    }
    return reply.code(404).send(errorBody(message, 'invalid_request_error', 'unknown_url'));
  });
  if (logger.isLevelEnabled('debug')) {
    app.addHook('onResponse', async (request, reply) => {
      // The path only: a query string may carry a client's key (`?api_key=`).
      request.log.debug({ method: request.method, url: request.url.split('?', 1)[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request done');
    });
  }

  app.decorateRequest('clientKey', undefined);
  app.decorateRequest('isAdmin', false);
  app.decorateRequest('liveConfig', null);
  app.decorateRequest('hangup', null);
  app.decorateRequest('lineWritten', false);
  app.decorateRequest('lifecycle', null);
  app.decorate('shutdownCut', false);

  return { app, capConnections, maxJsonDepth };
}
