import { createRequire } from 'node:module';

export const EXIT = {
  ok: 0,
  /** Invalid config, or the server could not start. */
  failure: 1,
  /** Bad command line. */
  usage: 2,
  /** Not an exit code: `serve` is running and exits on a signal. */
  running: -1,
} as const;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const USAGE = `Usage:
  adapterpool serve [--config FILE] [--port N] [--watch] [--log-format auto|json|pretty]
      Start the gateway. Without --config (or $ADAPTERPOOL_CONFIG) it runs on the built-in
      default config: the mock provider and two demo models. --port overrides server.port
      (0 picks a free port). --log-format overrides logging.format (auto: readable lines on a
      terminal, JSON when piped). SIGTERM/SIGINT: stop accepting, finish in-flight requests up
      to server.shutdownTimeout, close the pools, exit 0; a second signal exits 1 at once.
      SIGHUP: reload FILE without dropping a request (an invalid file changes nothing; ignored
      during a shutdown).
      --watch (or server.watchConfig: true): reload when FILE changes.
  adapterpool check-config FILE
      Validate FILE and print the resolved config (defaults applied, durations in ms, sizes in
      bytes) with secrets masked. Exit 0 if valid, 1 if not (every error, with its line).
  adapterpool print-config [--resolved]
      Print the built-in default config as YAML (a file to start from); --resolved prints it
      with every default spelled out.
  adapterpool --help | --version

Exit codes: 0 ok, 1 invalid config or start failure, 2 bad command line.
`;

export function version(): string {
  // dist/src/cli/usage.js -> package.json at the repository root.
  const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };
  return pkg.version;
}
