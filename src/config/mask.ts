import type { GatewayConfig } from './schema.js';

/** What a secret is printed as. */
export const MASK = '********';

/**
 * A copy of the config safe to print or log: API keys, admin key, provider keys, provider header
 * values and passwords in URLs (providers, PostgreSQL, Redis) replaced by `MASK` (empty values
 * stay empty so "unset" shows).
 */
export function maskConfig(config: GatewayConfig): GatewayConfig {
  const copy = structuredClone(config);
  copy.auth.apiKeys = copy.auth.apiKeys.map(mask);
  if (copy.auth.adminKey !== undefined) copy.auth.adminKey = mask(copy.auth.adminKey);
  for (const k of copy.auth.keys ?? []) if (k.key !== undefined) k.key = mask(k.key);
  if (copy.usage.postgres !== undefined) copy.usage.postgres = maskUrl(copy.usage.postgres);
  if (copy.cluster.redis !== undefined) copy.cluster.redis = maskUrl(copy.cluster.redis);
  for (const p of Object.values(copy.providers)) {
    if (p.apiKey !== undefined) p.apiKey = mask(p.apiKey);
    if (p.baseUrl !== undefined) p.baseUrl = maskUrl(p.baseUrl);
    // Every value, whatever the header's name: README treats them all as secrets (a proxy's token
    // may travel under any name, e.g. `x-custom`), as the scrubbing of messages and log lines does.
    if (p.headers) for (const name of Object.keys(p.headers)) p.headers[name] = mask(p.headers[name]!);
  }
  return copy;
}

/** Shorter values are not looked for in messages: a toy key such as `k` would mask every letter k. */
export const MIN_SCRUBBED_LENGTH = 8;

/**
 * The secret values of a config as written (after `${VAR}` substitution, before validation): client,
 * admin and provider keys and provider header values. A config error that quotes a field's value
 * (an env variable put in the wrong field: `baseUrl: ${OPENAI_KEY}`) must not print one of them.
 */
export function secretValues(raw: unknown): string[] {
  const out = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === 'string' && v.length >= MIN_SCRUBBED_LENGTH) out.add(v);
  };
  const obj = (v: unknown): Record<string, unknown> | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
  const auth = obj(obj(raw)?.auth);
  if (Array.isArray(auth?.apiKeys)) auth.apiKeys.forEach(add);
  add(auth?.adminKey);
  if (Array.isArray(auth?.keys)) for (const k of auth.keys) add(obj(k)?.key);
  for (const p of Object.values(obj(obj(raw)?.providers) ?? {})) {
    add(obj(p)?.apiKey);
    for (const h of Object.values(obj(obj(p)?.headers) ?? {})) add(h);
  }
  return [...out];
}

/** `text` with every one of `secrets` replaced by `MASK`. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.replaceAll(secret, MASK);
  return out;
}

function mask(secret: string): string {
  return secret === '' ? '' : MASK;
}

/** Query parameters that carry credentials (`?api-key=`, `?key=`, `?access_token=`, `?sig=`, ...). */
const SECRET_PARAM_RE = /key|token|secret|sig|auth|pass|credential|session/i;

/** A value of a secret-looking query parameter, in text that need not parse as a URL. */
const SECRET_QUERY_RE = /([?&][^=&#]*(?:key|token|secret|sig|auth|pass|credential|session)[^=&#]*=)[^&#]+/gi;

/** The `user:password@` of text that need not parse as a URL (up to the host's first `/ ? #`). */
const USERINFO_RE = /^([a-z][a-z0-9+.-]*:\/\/)?[^/?#@]*@/i;

/** URL credentials and secret-looking query values masked; everything else kept as written. */
export function maskUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // Not a URL (a config error echoes it): still no query-string secret, no user:password.
    return url.replace(SECRET_QUERY_RE, `$1${MASK}`).replace(USERINFO_RE, `$1${MASK}@`);
  }
  let changed = false;
  if (u.password) {
    u.password = MASK;
    changed = true;
  }
  if (u.username) {
    u.username = MASK;
    changed = true;
  }
  for (const [name, value] of [...u.searchParams]) {
    if (value !== '' && SECRET_PARAM_RE.test(name)) {
      u.searchParams.set(name, MASK);
      changed = true;
    }
  }
  return changed ? u.toString() : url;
}
