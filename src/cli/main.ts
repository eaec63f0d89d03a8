#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkConfigCommand } from './check-config.js';
import { printConfigCommand } from './print-config.js';
import { serveCommand } from './serve.js';
import { EXIT, UsageError, USAGE, version } from './usage.js';

/** `adapterpool serve [--config FILE] [--port N] [--log-format F]` · `check-config FILE` · `print-config` · `--help` · `--version`. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  // `adapterpool serve --help` and the like: the usage, not "unknown option".
  if (command !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  try {
    switch (command) {
      case 'serve':
        return await serveCommand(rest);
      case 'check-config':
        return await checkConfigCommand(rest);
      case 'print-config':
        return printConfigCommand(rest);
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE);
        return EXIT.ok;
      case '--version':
      case '-v':
        process.stdout.write(`${version()}\n`);
        return EXIT.ok;
      case undefined:
        throw new UsageError('no command given');
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`adapterpool: ${err.message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    throw err;
  }
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      // `serve` keeps running: it exits from its signal handler.
      if (code !== EXIT.running) process.exit(code);
    },
    (err: unknown) => {
      process.stderr.write(`adapterpool: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(EXIT.failure);
    },
  );
}
