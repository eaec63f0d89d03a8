import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

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

/** `json`: one pino JSON line per event. `pretty`: readable lines. `auto`: pretty on a terminal, JSON when piped. */
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LoggerOptions {
  /** Default `auto`. Ignored when a destination is given (tests and embedders read JSON). */
  format?: LogFormat;
}

export function createLogger(level: string, destination?: NodeJS.WritableStream, options: LoggerOptions = {}): Logger {
  const opts = { level, base: { name: 'adapterpool' }, redact: { paths: REDACT, censor: '[redacted]' } };
  if (destination) return pino(opts, destination as never);
  if (usePretty(options.format ?? 'auto')) {
    // In-process and synchronous: a human reads these, and the last lines before an exit must not be lost.
    const stream = pretty({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' });
    return pino(opts, stream);
  }
  return pino(opts);
}

function usePretty(format: LogFormat): boolean {
  return format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
}
