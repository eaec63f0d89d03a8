import { readFile } from 'node:fs/promises';
import { isMap, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { interpolateEnv } from './env.js';
import { ConfigError, formatPath, type ConfigIssue } from './errors.js';
import { configSchema, type GatewayConfig } from './schema.js';

export interface ParseConfigOptions {
  /** Name used in messages (a file path). */
  source?: string;
  /** Variables for `${VAR}`; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Accepted `providers.*.type` values (the provider registry's `PROVIDER_TYPES`); unchecked when absent. */
  providerTypes?: readonly string[];
}

type Path = ReadonlyArray<string | number>;

/** Parse, interpolate and validate config text. Throws a `ConfigError` naming every bad field and its line. */
export function parseConfig(text: string, options: ParseConfigOptions = {}): GatewayConfig {
  const source = options.source ?? '<config>';
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined): Pick<ConfigIssue, 'line' | 'column'> => {
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({ path: '', message: e.message.split('\n')[0]!, ...at(e.pos[0]) })),
    );
  }

  const issues: ConfigIssue[] = [];
  interpolate(doc, options.env ?? process.env, (path, message, node) => issues.push({ path: formatPath(path), message, ...at(node.range?.[0]) }));
  if (issues.length > 0) throw new ConfigError(source, issues);

  const raw: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(source, sortIssues(result.error.issues.flatMap((i) => toIssues(i, doc, at))));
  }

  const config = result.data;
  if (options.providerTypes) {
    const allowed = options.providerTypes;
    for (const [name, p] of Object.entries(config.providers)) {
      if (!allowed.includes(p.type)) {
        const path = ['providers', name, 'type'];
        issues.push({ path: formatPath(path), message: `unknown provider type "${p.type}" (supported: ${allowed.join(', ')})`, ...at(nodeAt(doc, path)?.range?.[0]) });
      }
    }
    if (issues.length > 0) throw new ConfigError(source, issues);
  }
  return config;
}

/** Read and parse a config file. */
export async function loadConfigFile(file: string, options: Omit<ParseConfigOptions, 'source'> = {}): Promise<GatewayConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [{ path: '', message: `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
  return parseConfig(text, { ...options, source: file });
}

/** Replace `${VAR}` in every string value (not keys), in place, reporting unset variables. */
function interpolate(doc: Document, env: NodeJS.ProcessEnv, report: (path: Path, message: string, node: Node) => void): void {
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string') return;
      const { value, missing } = interpolateEnv(node.value, env);
      for (const name of missing) {
        report(pathOf(ancestors, node), `environment variable ${name} is not set (use \${${name}:-} to allow it to be empty)`, node);
      }
      node.value = value;
    },
  });
}

/** Field path of a node from the visitor's ancestor chain. */
function pathOf(ancestors: readonly unknown[], node: unknown): Path {
  const path: Array<string | number> = [];
  const chain = [...ancestors, node];
  for (let i = 1; i < chain.length; i++) {
    const parent = chain[i - 1];
    const child = chain[i];
    if (parent && typeof parent === 'object' && 'key' in parent && 'value' in parent) {
      // A Pair: the next element is its value; its key names the segment.
      const k = (parent as { key: unknown }).key;
      path.push(String(isScalar(k) ? k.value : k));
    } else if (parent && typeof parent === 'object' && 'items' in parent && !isMap(parent)) {
      path.push((parent as { items: unknown[] }).items.indexOf(child));
    }
  }
  return path;
}

function nodeAt(doc: Document, path: Path): Node | undefined {
  // Walk up until a node exists: a missing field is reported at its parent.
  for (let n = path.length; n >= 0; n--) {
    const node = (n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)) as Node | undefined;
    if (node && typeof node === 'object' && 'range' in node) return node;
  }
  return undefined;
}

/** The node of the key `key` in the map at `path` (for unknown keys). */
function keyNodeAt(doc: Document, path: Path, key: string): Node | undefined {
  const map = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (!isMap(map)) return undefined;
  const pair = map.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
  return pair && isScalar(pair.key) ? pair.key : undefined;
}

function toIssues(issue: z.ZodIssue, doc: Document, at: (offset: number | undefined) => Pick<ConfigIssue, 'line' | 'column'>): ConfigIssue[] {
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    return issue.keys.map((key) => ({
      path: formatPath([...issue.path, key]),
      message: `unknown field "${key}"`,
      ...at((keyNodeAt(doc, issue.path, key) ?? nodeAt(doc, issue.path))?.range?.[0]),
    }));
  }
  let message = issue.message;
  if (issue.code === z.ZodIssueCode.invalid_type && issue.received === 'undefined') message = 'required';
  return [{ path: formatPath(issue.path), message, ...at(nodeAt(doc, issue.path)?.range?.[0]) }];
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  return issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}
