import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ConfigError, loadConfigFile, maskConfig } from '../config/index.js';
import { PROVIDER_TYPES } from '../providers/registry.js';
import { checkProviders } from '../server/index.js';
import { EXIT, UsageError } from './usage.js';

/** `check-config FILE`: validate, then print the resolved config with secrets masked. */
export async function checkConfigCommand(args: readonly string[]): Promise<number> {
  const { positionals } = parse(args);
  if (positionals.length !== 1) throw new UsageError('check-config needs exactly one FILE');
  const file = positionals[0]!;
  try {
    const config = await loadConfigFile(file, { providerTypes: PROVIDER_TYPES });
    checkProviders(config);
    process.stdout.write(`# ${file}: valid (resolved: defaults applied, durations in ms, sizes in bytes, secrets masked)\n`);
    process.stdout.write(stringify(maskConfig(config)));
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return EXIT.failure;
  }
}

function parse(args: readonly string[]) {
  try {
    return parseArgs({ args: [...args], options: {}, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
