import { readFile } from 'node:fs/promises';
import { isMap, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { z } from 'zod';
import { interpolateEnv, variableValues } from './env.js';
import { poolTotalProblem } from './diff.js';
import { ConfigError, formatPath, type ConfigIssue } from './errors.js';
import { MIN_SCRUBBED_LENGTH, scrubSecrets, secretValues } from './mask.js';
import { capText, clientKeySchema, KEY_HASH_RE, configSchema, configShape, crossCheck, deploymentSchema, modelSchema, providerSchema, type CrossCheckInput, type GatewayConfig, type ModelEntry, type ProviderEntry } from './schema.js';

export interface ParseConfigOptions {
  /** Name used in messages (a file path). */
  source?: string;
  /** Variables for `${VAR}`; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Accepted `providers.*.type` values (the provider registry's `PROVIDER_TYPES`); unchecked when absent. */
  providerTypes?: readonly string[];
  /**
   * Checks a provider entry the way its adapter will (missing key, Azure `deployment`, ...): returns
   * the problems, reported at the provider's line with the file's other errors. Given by the CLI,
   * which may know the provider registry (config does not import providers).
   */
  checkProvider?: ProviderCheck;
}

/** `models`: the upstream model ids the provider serves in this file. Problems as messages. */
export type ProviderCheck = (name: string, entry: ProviderEntry, models: readonly string[]) => string[];

type Path = ReadonlyArray<string | number>;

/**
 * Parse, interpolate and validate config text. Throws a `ConfigError` naming every bad field and
 * its line: every problem of the file at once (unset variables, schema, cross-field, provider
 * types and provider checks), each once.
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): GatewayConfig {
  const source = options.source ?? '<config>';
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined): Pick<ConfigIssue, 'line' | 'column'> => {
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  // Syntax errors first and alone: without a document tree nothing else can be located.
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({ path: '', message: syntaxMessage(e.code, e.message, text, e.pos[0]), ...at(e.pos[0]) })),
    );
  }

  const issues: ConfigIssue[] = [];
  const report = (path: Path, message: string): void => {
    issues.push({ path: formatPath(path), message, ...at(nodeAt(doc, path)?.range?.[0]) });
  };
  // A field whose variable is unset is reported once, for the variable, not again for its value.
  const unsetPaths = new Set<string>();
  // Fields whose value came from variables (`"${PORT}"`): a schema complaint about one names them.
  const fromEnv = new Map<string, string>();
  // What variables put into the file: masked in every message, like the secret fields' values (a key
  // set in the wrong field, `baseUrl: ${OPENAI_KEY}`, was quoted in full by that field's error).
  const envValues: string[] = [];
  interpolate(
    doc,
    options.env ?? process.env,
    (path, message, node) => {
      unsetPaths.add(formatPath(path));
      issues.push({ path: formatPath(path), message, ...at(node.range?.[0]) });
    },
    // Never the value itself: a variable may hold a secret.
    (path, source, value, variables) => {
      fromEnv.set(formatPath(path), value === '' ? `from ${source}, which is empty` : `from ${source}`);
      envValues.push(...variables);
    },
  );

  const raw: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(raw);
  let config: GatewayConfig | undefined;
  let providers: Record<string, ProviderEntry>;
  let models: Record<string, ModelEntry>;
  /** Providers checked without their bad fields (reported by the schema already): those fields' names. */
  let dropped = new Map<string, string[]>();
  if (result.success) {
    config = result.data;
    providers = config.providers;
    models = config.models;
    // The pool refuses minimums over maxTotal when it starts: said here, with the line, by check-config too.
    const total = poolTotalProblem(config);
    if (total !== undefined) report(['pool', 'maxTotal'], total);
  } else {
    for (const issue of result.error.issues.flatMap((i) => toIssues(i, doc, at))) {
      if (unsetPaths.has(issue.path)) continue;
      const origin = fromEnv.get(issue.path);
      issues.push(origin === undefined ? issue : { ...issue, message: `${issue.message} (${origin})` });
    }
    // The whole-file refinement did not run: check across the sections that are valid on their own.
    const parts = partialParse(raw);
    providers = parts.providers;
    models = parts.models;
    dropped = parts.dropped;
    crossCheck(parts.check, report);
  }

  const modelsOf = new Map<string, string[]>();
  for (const [name, m] of Object.entries(models)) {
    for (const d of m.providers) {
      const list = modelsOf.get(d.provider) ?? [];
      const id = d.model ?? name;
      if (!list.includes(id)) list.push(id);
      modelsOf.set(d.provider, list);
    }
  }
  for (const [name, p] of Object.entries(providers)) {
    if (options.providerTypes && !options.providerTypes.includes(p.type)) {
      report(['providers', name, 'type'], `unknown provider type "${p.type}" (supported: ${options.providerTypes.join(', ')})`);
      continue;
    }
    // Fields the schema rejected, and fields whose variable is unset (reported for the variable).
    const unset = [...unsetPaths].filter((u) => u.startsWith(`providers.${name}.`)).map((u) => u.slice(`providers.${name}.`.length));
    const without = [...(dropped.get(name) ?? []), ...unset];
    for (const message of options.checkProvider?.(name, p, modelsOf.get(name) ?? []) ?? []) {
      // A field the schema rejected is reported once, by the schema, not again as missing.
      if (!without.some((field) => message.includes(`"${field}"`))) report(['providers', name], message);
    }
  }

  if (issues.length > 0 || config === undefined) {
    // Longest first: a value that holds another is masked whole.
    const secrets = [...new Set([...secretValues(raw), ...envValues.filter((v) => v.length >= MIN_SCRUBBED_LENGTH)])].sort((a, b) => b.length - a.length);
    const safe = secrets.length === 0 ? issues : issues.map((i) => ({ ...i, message: scrubSecrets(i.message, secrets) }));
    throw new ConfigError(source, dedupe(sortIssues(safe)));
  }
  return config;
}

/** Each section (and each provider and model) checked on its own, keeping what is valid. */
function partialParse(raw: unknown): { check: CrossCheckInput; providers: Record<string, ProviderEntry>; models: Record<string, ModelEntry>; dropped: Map<string, string[]> } {
  const obj = isRecord(raw) ? raw : {};
  // A default in place of a bad minPoolSize or maxPoolSize would be checked as if written: not used then.
  const pool = withoutBadFields(configShape.pool, obj.pool ?? {}, ['minPoolSize', 'maxPoolSize']);
  // Each key on its own, at its index (the cross-checks name keys by index).
  const rawKeys = isRecord(obj.auth) && Array.isArray(obj.auth.keys) ? (obj.auth.keys as unknown[]) : undefined;
  const keys = rawKeys?.map((k) => {
    const parsed = withoutBadFields(clientKeySchema, k, ['name', 'key', 'keyHash', 'models'])?.data;
    if (parsed !== undefined || !isRecord(k)) return parsed;
    // A bad name, key, keyHash or models: the fields that are well formed are still checked (the
    // duplicate check needs only the secret, the model check only the list), in the same report.
    const { name, key, keyHash, models } = k;
    const entry: { name: string; key?: string; keyHash?: string; models?: string[] } = { name: typeof name === 'string' ? name : '' };
    if (typeof key === 'string' && key !== '') entry.key = key;
    else if (typeof keyHash === 'string' && KEY_HASH_RE.test(keyHash)) entry.keyHash = keyHash;
    if (Array.isArray(models) && models.every((m) => typeof m === 'string' && m !== '')) entry.models = models as string[];
    return entry;
  });
  const providers: Record<string, ProviderEntry> = {};
  const rawProviders = isRecord(obj.providers) ? obj.providers : undefined;
  const dropped = new Map<string, string[]>();
  for (const [name, entry] of Object.entries(rawProviders ?? {})) {
    // Its own checks (a missing key, Azure's deployment) run now, not after its bad fields are fixed.
    const p = withoutBadFields(providerSchema, entry, ['type']);
    if (p === undefined) continue;
    providers[name] = p.data;
    if (p.dropped.length > 0) dropped.set(name, p.dropped);
  }
  const models: Record<string, ModelEntry> = {};
  const checkModels: NonNullable<CrossCheckInput['models']> = {};
  const rawModels = isRecord(obj.models) ? obj.models : undefined;
  for (const [name, entry] of Object.entries(rawModels ?? {})) {
    const m = modelSchema.safeParse(entry);
    if (m.success) {
      models[name] = m.data;
      checkModels[name] = m.data;
    } else if (isRecord(entry) && Array.isArray(entry.providers)) {
      // Still check the deployments' references, without their bad fields (reported by the schema): an
      // unknown provider was told only once a bad `weight` beside it was fixed.
      checkModels[name] = {
        providers: entry.providers.map((d: unknown) => withoutBadFields(deploymentSchema, d, ['provider'])?.data),
      };
    }
  }
  const routing = withoutBadFields(configShape.routing, obj.routing ?? {}, ['retryBackoffInitial', 'retryBackoffMax']);
  const auth = withoutBadFields(configShape.auth, obj.auth ?? {}, ['apiKeys', 'adminKey']);
  const check: CrossCheckInput = {
    pool: pool?.data,
    routing: routing?.data,
    apiKeys: auth?.data.apiKeys,
    adminKey: auth?.data.adminKey,
    providerNames: rawProviders ? Object.keys(rawProviders) : undefined,
    providerTypes: Object.fromEntries(Object.entries(providers).map(([n, p]) => [n, p.type])),
    // A missing `models` section is already reported by the schema.
    models: rawModels ? checkModels : undefined,
    modelNames: rawModels ? Object.keys(rawModels) : undefined,
    keys,
  };
  return { check, providers, models, dropped };
}

/**
 * `value` parsed by `schema`, or else parsed without the top-level fields its errors name (those
 * errors are reported already), so the checks that need the rest can still run; undefined when that
 * fails too or a field of `needed` is among the bad ones.
 */
function withoutBadFields<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown, needed: readonly string[]): { data: T; dropped: string[] } | undefined {
  const first = schema.safeParse(value);
  if (first.success) return { data: first.data, dropped: [] };
  if (!isRecord(value)) return undefined;
  const bad = new Set(first.error.issues.flatMap((i) => (i.code === z.ZodIssueCode.unrecognized_keys ? i.keys : i.path.length > 0 ? [String(i.path[0])] : [])));
  if (bad.size === 0 || needed.some((f) => bad.has(f))) return undefined;
  const rest = schema.safeParse(Object.fromEntries(Object.entries(value).filter(([k]) => !bad.has(k))));
  return rest.success ? { data: rest.data, dropped: [...bad] } : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.line}:${i.column}:${i.path}:${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
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

/**
 * Replace `${VAR}` in every string value (not keys), in place, reporting unset variables, and each
 * field whose text held a variable (`substituted`: its source text and what it became).
 */
function interpolate(
  doc: Document,
  env: NodeJS.ProcessEnv,
  report: (path: Path, message: string, node: Node) => void,
  substituted: (path: Path, source: string, value: string, variables: readonly string[]) => void,
): void {
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string') return;
      const source = node.value;
      const { value, missing } = interpolateEnv(source, env);
      for (const name of missing) {
        report(pathOf(ancestors, node), `environment variable ${name} is not set (use \${${name}:-} to allow it to be empty)`, node);
      }
      if (value !== source) substituted(pathOf(ancestors, node), capText(source, 60), value, variableValues(source, env));
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

/** yaml's first line of the message; a repeated key is named (yaml says only "Map keys must be unique"). */
function syntaxMessage(code: string, message: string, text: string, offset: number): string {
  const first = message.split('\n')[0]!;
  if (code !== 'DUPLICATE_KEY') return first;
  const key = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^:\s,{}[\]]+)/.exec(text.slice(offset, offset + 200))?.[1];
  return key === undefined ? first : `${first}: ${key.startsWith('"') || key.startsWith("'") ? key : `"${key}"`} appears twice in the same map`;
}
