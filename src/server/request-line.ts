import { symbols, type Logger } from 'pino';

/**
 * The per-request log line, serialized here rather than by pino's generic `_asJson` (a loop over the
 * object's keys with serializer, formatter and stringifier lookups per key, and a try/catch
 * `JSON.stringify` for the token counts): that was the largest cost of ours on the request path
 * (~2.5 µs a line). The line is what pino writes for the same object, byte for byte but for lone
 * surrogates, which this escapes and pino does not (test: test/server/request-line.test.ts). It is
 * only written this way to a logger built by `createLogger` (no formatters, hooks, mixins or
 * custom levels); any other logger gets the object.
 */

/** The fixed fields of a request line, in their order in the line. */
export interface RequestLineFields {
  reqId: string;
  key: string | null;
  model: string;
  deployment: string | null;
  attempts: number;
  status: number;
  latency_ms: number;
  stream: boolean;
  tokens?: { prompt: number; completion: number; total: number } | undefined;
  error?: string | number | null | undefined;
}

/** Loggers whose lines are pino's defaults (made by createLogger, or children of one). */
const plain = new WeakSet<object>();

export function markPlain<L extends Logger>(logger: L): L {
  plain.add(logger);
  return logger;
}

export function isPlain(logger: object): logger is Logger {
  return plain.has(logger);
}

interface PinoInternals {
  [symbols.chindingsSym]: string;
  [symbols.streamSym]: { write(line: string): unknown };
}

/** Write the line at pino level `level` (30 info, 40 warn) to a plain logger, if that level is enabled. */
export function writeRequestLine(logger: Logger, level: 30 | 40, f: RequestLineFields, msg: string): void {
  if (logger.levelVal > level) return;
  const l = logger as unknown as PinoInternals;
  let s = `{"level":${level},"time":${Date.now()}${l[symbols.chindingsSym]},"reqId":${str(f.reqId)},"key":${f.key === null ? 'null' : str(f.key)},"model":${str(f.model)},"deployment":${f.deployment === null ? 'null' : str(f.deployment)},"attempts":${num(f.attempts)},"status":${num(f.status)},"latency_ms":${num(f.latency_ms)},"stream":${f.stream}`;
  const t = f.tokens;
  if (t !== undefined) s += `,"tokens":${Number.isFinite(t.prompt) && Number.isFinite(t.completion) && Number.isFinite(t.total) ? `{"prompt":${t.prompt},"completion":${t.completion},"total":${t.total}}` : JSON.stringify(t)}`;
  const e = f.error;
  if (e !== undefined) s += `,"error":${e === null ? 'null' : typeof e === 'number' ? num(e) : str(e)}`;
  l[symbols.streamSym].write(`${s},"msg":${str(msg)}}\n`);
}

/** A JSON string: as is between quotes when nothing in it needs escaping (the usual case), else JSON.stringify. */
function str(v: string): string {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 32 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(v);
  }
  return `"${v}"`;
}

/** pino writes a non-finite number as null. */
function num(v: number): string {
  return Number.isFinite(v) ? String(v) : 'null';
}
