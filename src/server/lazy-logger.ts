import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString, Logger } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type LogArgs = Parameters<Logger['info']>;

/**
 * `request.log`, built on first use: fastify makes a child logger (its bindings serialized to JSON)
 * for every request, and most requests log nothing through it (the per-request line has its own
 * logger). A call at a level the parent filters out builds nothing either. Methods live on the
 * prototype so a request that never logs costs one small object.
 */
export class LazyChildLogger implements FastifyBaseLogger {
  private built: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions | undefined,
  ) {}

  private get log(): Logger {
    return (this.built ??= this.parent.child(this.bindings, this.options));
  }

  /** Nothing to write: not built yet, no level of its own, and the parent filters this level out. */
  private skip(level: Level): boolean {
    return this.built === undefined && this.options?.level === undefined && !this.parent.isLevelEnabled(level);
  }

  get level(): LevelWithSilentOrString {
    return this.built?.level ?? this.options?.level ?? this.parent.level;
  }

  set level(level: LevelWithSilentOrString) {
    this.log.level = level;
  }

  isLevelEnabled(level: LevelWithSilentOrString): boolean {
    return this.skip(level as Level) ? false : this.log.isLevelEnabled(level);
  }

  fatal(...args: LogArgs): void {
    if (!this.skip('fatal')) this.log.fatal(...args);
  }
  error(...args: LogArgs): void {
    if (!this.skip('error')) this.log.error(...args);
  }
  warn(...args: LogArgs): void {
    if (!this.skip('warn')) this.log.warn(...args);
  }
  info(...args: LogArgs): void {
    if (!this.skip('info')) this.log.info(...args);
  }
  debug(...args: LogArgs): void {
    if (!this.skip('debug')) this.log.debug(...args);
  }
  trace(...args: LogArgs): void {
    if (!this.skip('trace')) this.log.trace(...args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.log.child(bindings, options);
  }
}
