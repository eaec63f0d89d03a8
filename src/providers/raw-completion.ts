import { ProviderError } from './errors.js';
import type { ChatCompletion, Usage } from './types.js';

const RAW = Symbol('adapterpool.completionText');

/**
 * The upstream's JSON text of a completion, exactly as it came, for callers that can send it on as is
 * (no parse, no re-serialize); undefined when there is none (a translated or mock completion) or once
 * the object was materialized (a field other than `usage` was read, or anything was written: it may
 * then differ from the text).
 */
export function completionText(completion: ChatCompletion): string | undefined {
  return (completion as unknown as Record<symbol, string | undefined>)[RAW];
}

/**
 * A 2xx body that is shaped like a completion (`{...}` holding a `"choices"` key): cheap to check, and
 * what a healthy upstream sends. Anything else goes through the full classification.
 */
export function looksLikeCompletion(text: string): boolean {
  return firstNonSpace(text) === '{' && lastNonSpace(text) === '}' && text.includes('"choices"');
}

/**
 * A completion backed by its upstream text, parsed only when a caller reads more than `usage`
 * (which is read from the text alone). It behaves as the parsed object for every reader — field
 * reads, `JSON.stringify`, `Object.keys`, deep equality — and `completionText()` gives the text.
 */
export function lazyCompletion(text: string, provider: string): ChatCompletion {
  return new Proxy(new LazyState(text, provider), HANDLER) as unknown as ChatCompletion;
}

class LazyState {
  raw: string | undefined;
  parsed: ChatCompletion | undefined;
  usageRead = false;
  usage: Usage | undefined;

  constructor(
    readonly text: string,
    readonly provider: string,
  ) {
    this.raw = text;
  }

  /** The object itself: from here on it may be changed, so the text no longer stands for it. */
  materialize(): ChatCompletion {
    this.raw = undefined;
    return this.parse();
  }

  parse(): ChatCompletion {
    if (this.parsed === undefined) {
      try {
        this.parsed = JSON.parse(this.text) as ChatCompletion;
      } catch {
        // Only the cheap shape check vouched for it. No cause: the parse message quotes the text.
        throw new ProviderError({
          provider: this.provider,
          status: 502,
          errorClass: 'bad_response',
          message: `${this.provider}: upstream returned a completion that is not JSON`,
        });
      }
    }
    return this.parsed;
  }

  readUsage(): Usage | undefined {
    if (!this.usageRead) {
      this.usage = this.parsed !== undefined ? this.parsed.usage : (usageFromText(this.text) ?? this.parse().usage);
      this.usageRead = true;
    }
    return this.usage;
  }
}

const HANDLER: ProxyHandler<LazyState> = {
  get(s, p) {
    if (p === RAW) return s.raw;
    if (p === 'usage') return s.parsed !== undefined && s.raw === undefined ? s.parsed.usage : s.readUsage();
    // Promise resolution asks every returned value for `then`: answering it must not parse.
    if (p === 'then') return undefined;
    return Reflect.get(s.materialize(), p);
  },
  has: (s, p) => Reflect.has(s.materialize(), p),
  ownKeys: (s) => Reflect.ownKeys(s.materialize()),
  getOwnPropertyDescriptor(s, p) {
    const d = Reflect.getOwnPropertyDescriptor(s.materialize(), p);
    // Proxy invariant: a property the target (the state) lacks must be reported configurable.
    if (d) d.configurable = true;
    return d;
  },
  set: (s, p, v) => Reflect.set(s.materialize(), p, v),
  deleteProperty: (s, p) => Reflect.deleteProperty(s.materialize(), p),
  defineProperty: (s, p, d) => Reflect.defineProperty(s.materialize(), p, d),
  getPrototypeOf: () => Object.prototype,
};

/**
 * The top-level `usage` object read from the text alone: the last `"usage": {` (it comes after
 * `choices`; a raw `"usage"` cannot sit inside a JSON string), up to its matching brace. Undefined when
 * that fails, and the caller parses the whole text instead.
 */
function usageFromText(text: string): Usage | undefined {
  let at = text.lastIndexOf('"usage"');
  while (at !== -1) {
    let j = skipSpaces(text, at + 7);
    if (text.charCodeAt(j) === 58 /* : */) {
      j = skipSpaces(text, j + 1);
      if (text.charCodeAt(j) === 123 /* { */) {
        const end = closingBrace(text, j);
        if (end === -1) return undefined;
        try {
          return JSON.parse(text.slice(j, end + 1)) as Usage;
        } catch {
          return undefined;
        }
      }
      return undefined; // `"usage": null` and the like: let the full parse say
    }
    at = at === 0 ? -1 : text.lastIndexOf('"usage"', at - 1);
  }
  return undefined;
}

/** Index of the `}` closing the object opened at `start`, strings skipped; -1 if none. */
function closingBrace(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 92 /* \ */) i++;
        else if (d === 34) break;
      }
    } else if (c === 123) depth++;
    else if (c === 125 && --depth === 0) return i;
  }
  return -1;
}

function skipSpaces(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function firstNonSpace(text: string): string {
  return text[skipSpaces(text, 0)] ?? '';
}

function lastNonSpace(text: string): string {
  let i = text.length - 1;
  while (i >= 0 && isSpace(text.charCodeAt(i))) i--;
  return i >= 0 ? text[i]! : '';
}
