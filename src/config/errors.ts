/** One problem in a config file, located by its field path and (when known) line and column. */
export interface ConfigIssue {
  /** Dotted field path, e.g. `models.gpt.providers[0].provider`; empty for the document itself. */
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/** The config could not be loaded; `message` lists every issue as `file:line:col: path: message`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly source: string;
  readonly issues: readonly ConfigIssue[];

  constructor(source: string, issues: readonly ConfigIssue[]) {
    super(`invalid config ${source}:\n${issues.map((i) => `  ${formatIssue(source, i)}`).join('\n')}`);
    this.source = source;
    this.issues = issues;
  }
}

export function formatIssue(source: string, issue: ConfigIssue): string {
  const where = issue.line === undefined ? source : `${source}:${issue.line}:${issue.column ?? 1}`;
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** `['models', 'gpt', 'providers', 0, 'provider']` -> `models.gpt.providers[0].provider`. */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
