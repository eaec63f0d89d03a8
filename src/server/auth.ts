import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ClientKey } from '../config/index.js';
import { adminKeyRequired, clientKeyRequired, GatewayHttpError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The client key that authenticated the request (undefined: open gateway, or the admin key). */
    clientKey: ClientKey | undefined;
    /** The request presented the admin key. */
    isAdmin: boolean;
  }
}

/**
 * Bearer-key checks. Keys are compared as SHA-256 digests with `timingSafeEqual`, so neither the
 * key nor its length leaks through timing, and every configured key is compared on each call.
 */

export type KeyMatcher = (presented: string | undefined) => boolean;

/**
 * An auth rule of a route: returns when the request may pass (setting `clientKey` / `isAdmin`),
 * throws the 401 / 403 otherwise. Synchronous, so the hook that runs it needs no promise.
 */
export type AuthCheck = (request: FastifyRequest) => void;

/** Found tokens kept per ring (cleared when full): an unbounded map would grow with every key ever presented. */
const KNOWN_TOKENS = 1024;

// One-shot `crypto.hash` (Node >= 20.12) costs half of createHash().update().digest() per request.
export const digest = (key: string): Buffer => hash('sha256', key, 'buffer') as unknown as Buffer;

/**
 * Finds which configured key a bearer token is, by digest, in constant time: every entry is
 * compared (no early exit), so timing tells neither which key matched nor how close a guess was.
 */
export class KeyRing {
  readonly keys: readonly ClientKey[];
  private readonly admin: Buffer | undefined;
  /**
   * Tokens already found, so a client's key is hashed once per ring, not on every request (~1 µs).
   * Only matches are kept (a guess is hashed and compared as before). A lookup compares strings only
   * on a full 32-bit hash collision of equal length, so it tells an attacker nothing usable about a key.
   */
  private readonly known = new Map<string, ClientKey>();

  constructor(keys: readonly ClientKey[], adminKey: string | undefined) {
    this.keys = keys;
    this.admin = adminKey === undefined ? undefined : digest(adminKey);
  }

  /** The client key `token` is, if any. */
  find(token: string): ClientKey | undefined {
    const hit = this.known.get(token);
    if (hit !== undefined) return hit;
    const d = digest(token);
    let found: ClientKey | undefined;
    for (const k of this.keys) if (timingSafeEqual(d, k.digest) && found === undefined) found = k;
    if (found !== undefined) {
      if (this.known.size >= KNOWN_TOKENS) this.known.clear();
      this.known.set(token, found);
    }
    return found;
  }

  /** `token` is the admin key. */
  isAdmin(token: string): boolean {
    return this.admin !== undefined && timingSafeEqual(digest(token), this.admin);
  }
}

export function keyMatcher(keys: readonly string[]): KeyMatcher {
  const digests = keys.map(digest);
  return (presented) => {
    if (presented === undefined || digests.length === 0) return false;
    const d = digest(presented);
    let ok = false;
    for (const k of digests) ok = timingSafeEqual(d, k) || ok;
    return ok;
  };
}

/** The token of `Authorization: Bearer <token>`. */
function bearerToken(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization;
  if (h === undefined || h.length < 8 || h.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  return h.slice(7).trim();
}

/** Hosts that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** How a client sends its key, for the 401 of a missing key (the OpenAI-shaped routes). */
const BEARER_KEY_HINT = '"Authorization: Bearer <key>"';
/** The same for the Anthropic-shaped routes, whose clients send `x-api-key` (see `anthropicKey`). */
export const ANTHROPIC_KEY_HINT = '"x-api-key: <key>" (or "Authorization: Bearer <key>")';

const missingKey = (sendAs = BEARER_KEY_HINT) =>
  new GatewayHttpError(401, `You didn't provide an API key. Send it as ${sendAs}.`, 'invalid_request_error', 'missing_api_key');
const invalidKey = () => new GatewayHttpError(401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');

/**
 * The key of an Anthropic-style client: `x-api-key` (what the Anthropic SDK sends), else a bearer token.
 * It is always one of the gateway's own keys; nothing a client sends is forwarded to a provider as a key.
 */
export function anthropicKey(request: FastifyRequest): string | undefined {
  const h = request.headers['x-api-key'];
  if (typeof h === 'string' && h !== '') return h.trim();
  return bearerToken(request);
}

export interface RequireKeyOptions {
  /** Also accept the admin key. */
  admin?: boolean;
  /** Where the key is read from (default: `Authorization: Bearer`). */
  token?: (request: FastifyRequest) => string | undefined;
  /** How the 401 of a missing key tells the client to send it (default: `"Authorization: Bearer <key>"`). */
  sendAs?: string;
}

/**
 * Require a client key (and, with `admin`, also accept the admin key); no client keys configured =
 * open. Sets `request.clientKey` / `request.isAdmin`.
 */
export function requireKey(ring: KeyRing, options: RequireKeyOptions = {}): AuthCheck | undefined {
  if (ring.keys.length === 0) return undefined;
  const admin = options.admin === true;
  const tokenOf = options.token ?? bearerToken;
  const sendAs = options.sendAs ?? BEARER_KEY_HINT;
  return (request) => {
    const token = tokenOf(request);
    if (token === undefined) throw missingKey(sendAs);
    const key = ring.find(token);
    if (key !== undefined) {
      request.clientKey = key;
      return;
    }
    if (ring.isAdmin(token)) {
      if (admin) {
        request.isAdmin = true;
        return;
      }
      // The admin key is known but not a client key: 403, not the 401 of a wrong key (the mirror of admin_key_required).
      throw clientKeyRequired();
    }
    throw invalidKey();
  };
}

/** `model` is one the request's key may use. */
export function keyAllowsModel(key: ClientKey | undefined, model: string): boolean {
  return key?.models === undefined || key.models.has(model);
}

/**
 * The admin rule for the POST pool endpoints and the admin endpoints: with `adminKey` set, that key
 * is required (API keys are not enough: a client key of `ring` is refused with 403
 * `admin_key_required`, any other key with 401); without it, they are allowed only when the server
 * is bound to loopback, so only local callers can reach them; otherwise they are refused with 403.
 */
export function requireAdmin(adminKey: string | undefined, host: string, ring: KeyRing): AuthCheck {
  if (adminKey !== undefined) {
    const matches = keyMatcher([adminKey]);
    return (request) => {
      const token = bearerToken(request);
      if (token === undefined) throw missingKey();
      if (matches(token)) return;
      // A key that works elsewhere: the caller is known but lacks the right (403), the key is not wrong (401).
      if (ring.find(token) !== undefined) throw adminKeyRequired();
      throw invalidKey();
    };
  }
  const open = isLoopbackHost(host);
  return () => {
    if (!open) {
      throw new GatewayHttpError(
        403,
        'Admin endpoints are disabled: set auth.adminKey, or bind server.host to a loopback address.',
        'permission_error',
        'admin_disabled',
      );
    }
  };
}
