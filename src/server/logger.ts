import { pino, symbols, type Logger } from 'pino';
import { createRequire } from 'node:module';
import type pinoPretty from 'pino-pretty';
import { LineDestination } from './log-destination.js';
import { isPlain, markPlain } from './request-line.js';

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
  /** JSON to stdout only: how long a line may wait for others to share its write (LineDestination). Default 0. */
  flushIntervalMs?: number;
}

/**
 * The gateway's logger. Without a destination it writes to stdout: JSON asynchronously (lines are
 * queued for up to `flushIntervalMs` and written in batches, not one `write` per line, see LineDestination;
 * what is queued is written when the process exits, and the gateway's close() flushes too), or
 * readable lines (pino-pretty) when the format says so or stdout is a terminal.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream, options: LoggerOptions = {}): Logger {
  const opts = { level, base: { name: 'adapterpool' }, redact: { paths: REDACT, censor: '[redacted]' } };
  if (destination) {
    const logger = pino(opts, destination as never);
    // A destination that reads pino's per-line metadata (pino.multistream) gets every line from pino.
    return symbols.needsMetadataGsym in destination ? logger : markPlain(logger);
  }
  if (usePretty(options.format ?? 'auto')) {
    // In-process and synchronous: a human reads these, and the last lines before an exit must not be lost.
    // Required here, not imported: a gateway logging JSON (the production case) never loads pino-pretty.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof pinoPretty;
    const stream = pretty({ sync: true, colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,name' });
    return markPlain(pino(opts, stream));
  }
  return markPlain(pino(opts, new LineDestination(1, { flushIntervalMs: options.flushIntervalMs ?? 0 })));
}
// Loggers made here are marked plain (pino's default line format, no formatters, hooks or mixins):
// request-line.ts may serialize their per-request line itself.

function usePretty(format: LogFormat): boolean {
  return format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
}

/**
 * A child for lines built only from fields of ours that cannot hold a secret (the per-request line:
 * ids, names, numbers; never headers or config). Redaction walks every field of every line (the
 * `*.apiKey` wildcard) and was ~3 µs and ~4.6 KB of garbage per request line.
 */
export function unredactedChild(logger: Logger, bindings: Record<string, unknown> = {}): Logger {
  const child = logger.child(bindings, { redact: [] });
  return isPlain(logger) ? markPlain(child) : child;
}
