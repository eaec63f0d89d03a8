import { pino, type Logger } from 'pino';

/** Paths pino replaces with "[redacted]": client keys in request headers and any provider key. */
const REDACT = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'apiKey',
  '*.apiKey',
  'config.providers.*.apiKey',
  'config.auth',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { name: 'adapterpool' }, redact: { paths: REDACT, censor: '[redacted]' } };
  return destination ? pino(options, destination as never) : pino(options);
}
