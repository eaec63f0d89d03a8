/**
 * `${VAR}` interpolation of config strings.
 *
 * Rule: `${VAR}` must be set (an unset variable is a config error naming it); `${VAR:-fallback}`
 * uses `fallback` (possibly empty) when VAR is unset or empty; `$${` is a literal `${`.
 * Interpolation runs on parsed string values, never on the YAML text, so a variable cannot inject YAML.
 */

const VAR_RE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface InterpolationResult {
  value: string;
  /** Names of required variables that were unset. */
  missing: string[];
}

export function interpolateEnv(text: string, env: NodeJS.ProcessEnv): InterpolationResult {
  const missing: string[] = [];
  if (!text.includes('${')) return { value: text, missing };
  const value = text.replace(VAR_RE, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    const v = env[name!];
    if (fallback !== undefined) return v === undefined || v === '' ? fallback : v;
    if (v === undefined) {
      missing.push(name!);
      return '';
    }
    return v;
  });
  return { value, missing };
}

/** What the set variables `text` names hold (a variable may hold a secret: messages mask these). */
export function variableValues(text: string, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(VAR_RE)) {
    const v = m[1] === undefined ? undefined : env[m[1]];
    if (v !== undefined && v !== '') out.push(v);
  }
  return out;
}
