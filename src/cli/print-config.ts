import { stringify } from 'yaml';
import { DEFAULT_CONFIG_YAML, defaultConfig } from '../config/index.js';
import { parse } from './check-config.js';
import { EXIT, UsageError } from './usage.js';

/**
 * `print-config [--resolved]`: the built-in default config `serve` runs without a file, as YAML to
 * start a file from; `--resolved` prints it with every default spelled out (as `check-config` does).
 */
export function printConfigCommand(args: readonly string[]): number {
  const { values, positionals } = parse(args, { resolved: { type: 'boolean' } });
  if (positionals.length > 0) throw new UsageError('print-config takes no FILE');
  if (values.resolved === true) {
    process.stdout.write('# built-in default config, resolved: defaults applied, durations in ms, sizes in bytes\n');
    process.stdout.write(stringify(defaultConfig()));
  } else {
    process.stdout.write(DEFAULT_CONFIG_YAML);
  }
  return EXIT.ok;
}
