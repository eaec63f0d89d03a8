import { ProviderError } from './errors.js';

/** Shorter values are not secrets worth scrubbing (and scrubbing them would garble every message). */
const MIN_SECRET_LENGTH = 4;
/** Keys at least this long also lose their visible head and tail (OpenAI echoes `sk-abc***...wxyz`). */
const FRAGMENT_MIN_LENGTH = 12;
/**
 * Only a token's head and tail are scrubbed alone: a header value such as `https://myapp.example.com`
 * (OpenRouter's HTTP-Referer) would otherwise lose every `https://` of every message.
 */
const TOKEN = /^[A-Za-z0-9._~+/=-]+$/;
const MASK = '***';

/** What of a provider's config is secret. */
export interface SecretSources {
  apiKey?: string;
  /** Every value is treated as secret (auth headers, org ids, gateway tokens...). */
  headers?: Record<string, string>;
  /** Its query-string values and user:password are secret. */
  baseUrl?: string;
}

/**
 * Removes every configured secret from text that leaves the provider layer: error messages, types,
 * codes and params, stream error frames, log fields. Built once per provider config; one regular
 * expression matches them all, longest first.
 */
export class SecretScrubber {
  static readonly none = new SecretScrubber([]);
  private readonly pattern: RegExp | undefined;

  /** @param secrets scrubbed wherever they appear; @param keys also lose their visible head and tail. */
  constructor(secrets: Iterable<string | undefined>, keys: Iterable<string | undefined> = []) {
    const all = new Set<string>();
    for (const s of secrets) if (s && s.length >= MIN_SECRET_LENGTH) all.add(s);
    for (const k of keys) {
      if (!k || k.length < MIN_SECRET_LENGTH) continue;
      all.add(k);
      if (k.length >= FRAGMENT_MIN_LENGTH && TOKEN.test(k)) {
        all.add(k.slice(0, 8));
        all.add(k.slice(-6));
      }
    }
    if (all.size === 0) return;
    const sorted = [...all].sort((a, b) => b.length - a.length).map(escapeRegExp);
    // Case-blind: an upstream that echoes a key lower-cased still echoes the key.
    this.pattern = new RegExp(sorted.join('|'), 'gi');
  }

  /** Nothing to scrub: callers can skip the work. */
  get empty(): boolean {
    return this.pattern === undefined;
  }

  text(s: string): string {
    if (this.pattern === undefined || s.length < MIN_SECRET_LENGTH) return s;
    return s.replace(this.pattern, MASK);
  }

  /** A string field scrubbed; numbers and null pass (a secret is never a number we would echo). */
  field<T extends string | number | null | undefined>(v: T): T {
    return (typeof v === 'string' ? this.text(v) : v) as T;
  }

  /** The same error with message, type, code and param scrubbed (the same object when nothing changed). */
  error(err: ProviderError): ProviderError {
    if (this.pattern === undefined) return err;
    const e = err.body.error;
    const message = this.text(err.message);
    const type = this.text(e.type);
    const code = this.field(e.code);
    const param = this.field(e.param);
    const causeText = err.cause === undefined ? undefined : String((err.cause as Error | undefined)?.message ?? err.cause);
    const cause = causeText === undefined ? undefined : this.text(causeText);
    if (message === err.message && e.message === err.message && type === e.type && code === e.code && param === e.param && cause === causeText) return err;
    return new ProviderError({
      provider: err.provider,
      status: err.status,
      errorClass: err.errorClass,
      message,
      type,
      code,
      param,
      retryAfterMs: err.retryAfterMs,
      // The cause may quote the upstream's text: keep only its scrubbed message.
      cause: cause === undefined ? undefined : new Error(cause),
    });
  }
}

/** Every secret of one provider config: the key, header values, query-string values, URL credentials. */
export function scrubberFor(src: SecretSources): SecretScrubber {
  const secrets: string[] = [];
  // Every secret is a key here: an upstream echoes a header token or a query-string key as partly as an API key.
  const keys: Array<string | undefined> = [src.apiKey];
  for (const value of Object.values(src.headers ?? {})) {
    keys.push(value);
    // `Bearer <token>` / `Basic <creds>`: the credential alone is what an upstream would echo.
    const m = /^\s*[A-Za-z]+\s+(\S{4,})\s*$/.exec(value);
    if (m) keys.push(m[1]);
  }
  if (src.baseUrl) {
    try {
      const url = new URL(src.baseUrl);
      for (const [, value] of url.searchParams) keys.push(value, encodeURIComponent(value));
      for (const part of url.search.slice(1).split('&')) secrets.push(part.slice(part.indexOf('=') + 1));
      for (const cred of [url.username, url.password]) if (cred) keys.push(cred, safeDecode(cred));
    } catch {
      // Not a URL: the preset refuses it before any request.
    }
  }
  return new SecretScrubber(secrets, keys);
}

const cache = new WeakMap<object, SecretScrubber>();

/** The scrubber of a config object, built on first use and shared by every adapter made from it. */
export function scrubberOf(config: SecretSources & object): SecretScrubber {
  let s = cache.get(config);
  if (!s) {
    s = scrubberFor(config);
    cache.set(config, s);
  }
  return s;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
