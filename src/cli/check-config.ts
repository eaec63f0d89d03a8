import { parseArgs, type ParseArgsConfig } from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;
type ParsedValues<O extends ParseArgsOptionsConfig> = ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>['values'];
import { stringify } from 'yaml';
import { maskConfig } from '../config/index.js';
import { loadConfigForCli } from './load.js';
import { EXIT, UsageError } from './usage.js';

/** `check-config FILE`: validate, then print the resolved config with secrets masked. */
export async function checkConfigCommand(args: readonly string[]): Promise<number> {
  const { positionals } = parse(args, {});
  if (positionals.length !== 1) throw new UsageError('check-config needs exactly one FILE');
  const file = positionals[0]!;
  const config = await loadConfigForCli(file);
  if (config === undefined) return EXIT.failure;
  process.stdout.write(`# ${file}: valid (resolved: defaults applied, durations in ms, sizes in bytes, secrets masked)\n`);
  process.stdout.write(stringify(maskConfig(config)));
  return EXIT.ok;
}

export function parse<O extends ParseArgsOptionsConfig>(args: readonly string[], options: O): { values: ParsedValues<O>; positionals: string[] } {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
