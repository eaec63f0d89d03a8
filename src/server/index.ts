export { buildGateway, type Gateway, type GatewayOptions } from './app.js';
export { checkProviders, providerCheck, type AdapterFactory } from './check-providers.js';
export { createLogger, type LogFormat, type LoggerOptions } from './logger.js';
export { toErrorReply, GatewayHttpError, errorBody, type ErrorReply } from './errors.js';
export { keyMatcher, isLoopbackHost } from './auth.js';
export { pipeSse } from './sse.js';
export { POOL_MESSAGES } from './routes/pool.js';
export { DEPLOYMENT_HEADER, ATTEMPTS_HEADER } from './error-reply.js';
export type { GatewayPool, PoolEnvelope, AdapterDetailRow } from './types.js';
