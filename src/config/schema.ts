import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULT_ROUTING_CONFIG } from '../routing/types.js';
import { poolKey } from '../pool/key.js';
import { maskUrl } from './mask.js';
import { formatDuration, parseDuration, parseSize } from './units.js';

/**
 * The YAML config, validated with zod. Every limit has a default; unknown keys are rejected.
 * Durations come out as milliseconds and sizes as bytes.
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export const STRATEGIES = ['round_robin', 'weighted', 'least_connections', 'lowest_latency', 'failover'] as const;
/** What a model serves: `chat` (`/v1/chat/completions`, `/v1/messages`) and/or `embeddings` (`/v1/embeddings`). */
export const ENDPOINTS = ['chat', 'embeddings'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];
/** Provider types with no embeddings endpoint: a model serving embeddings cannot be routed to them. */
export const TYPES_WITHOUT_EMBEDDINGS: readonly string[] = ['anthropic', 'deepseek', 'moonshot'];

/**
 * The longest duration: Node's timers hold at most 2^31-1 ms (about 24.8 days), and a longer one
 * fires after 1 ms instead (a 25-day shutdownTimeout cut every request at once).
 */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * A duration (`500ms`, `60s`, `5m`, `1h`) or a number of ms; numeric strings (from `${ENV}`) accepted.
 * `min`: 1 for an interval or a timeout that 0 would turn into a busy loop or an instant failure (a
 * 0 `pruneInterval` pruned non-stop); 0 where README gives 0 a meaning.
 */
const duration = (min: 0 | 1 = 0) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `invalid duration ${JSON.stringify(v)}: use e.g. 500ms, 60s, 5m, 1h or a number of ms` });
      return z.NEVER;
    }
    if (ms < min || ms > MAX_TIMER_MS) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `use ${min}ms to ${MAX_TIMER_MS}ms (24 days 20 hours: Node's timer limit), got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return ms;
  });
/** A duration of at least 1 ms. */
const positiveDuration = () => duration(1);

const size = () =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const bytes = parseSize(v);
    if (bytes === undefined || bytes === 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `invalid size ${JSON.stringify(v)}: use e.g. 512kb, 4mb or a number of bytes` });
      return z.NEVER;
    }
    return bytes;
  });

/** An integer; a numeric string (e.g. from `${PORT}`) is accepted too. */
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess((v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v), z.number().int().min(min).max(max));

const num = (min: number, max: number) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v), z.number().min(min).max(max));

/** A boolean; the strings `true` / `false` (e.g. from `${LOG_PROMPTS:-false}`) are accepted too. */
const bool = () =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    const t = v.trim().toLowerCase();
    return t === 'true' ? true : t === 'false' ? false : v;
  }, z.boolean());

/**
 * An absolute http(s) URL. `new URL('localhost:11434/v1')` parses (scheme `localhost:`), so
 * `z.string().url()` alone lets a scheme-less address through to fail later, obscurely.
 */
const httpUrl = () =>
  z.string().superRefine((v, ctx) => {
    let scheme: string | undefined;
    try {
      scheme = new URL(v).protocol;
    } catch {
      scheme = undefined;
    }
    if (scheme !== 'http:' && scheme !== 'https:') {
      const shown = capText(maskUrl(v), 200);
      // An http(s) URL that does not parse has a bad host or port (`:99999`), not a bad scheme.
      const hint = /^https?:\/\//i.test(v) ? 'check the host and the port' : v.includes('://') ? 'use http:// or https://' : `write it with its scheme, e.g. http://${shown}`;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `invalid URL ${JSON.stringify(shown)}: ${hint}` });
    }
  });

/** Why `url` is not a Redis URL ioredis can use; undefined when it is. */
function redisUrlProblem(url: string): string | undefined {
  if (!/^rediss?:\/\//i.test(url)) return 'not a redis:// or rediss:// URL';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a valid URL (check the host and the port)';
  }
  if (u.hostname === '') return 'no host';
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/\d+$/.test(u.pathname)) return 'the path must be a database number, e.g. /0';
  return undefined;
}

/** Why `url` is not a PostgreSQL URL pg can use; undefined when it is. */
function postgresUrlProblem(url: string): string | undefined {
  if (!/^postgres(ql)?:\/\//i.test(url)) return 'not a postgres:// or postgresql:// URL';
  try {
    new URL(url);
  } catch {
    return 'not a valid URL (check the host and the port)';
  }
  return undefined;
}

/** Why `host` cannot be listened on as written (an address or a host name), or undefined. */
function hostProblem(host: string): string | undefined {
  if (isIP(host) !== 0) return undefined;
  if (/^\[.*\]$/.test(host) && isIP(host.slice(1, -1)) === 6) return `write an IPv6 address without brackets: ${host.slice(1, -1)}`;
  if (/^[\d.]+$/.test(host)) return `${JSON.stringify(capText(host, 60))} is not an IPv4 address (four numbers from 0 to 255)`;
  if (!/^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(host)) {
    return `${JSON.stringify(capText(host, 60))} is neither an IP address nor a host name`;
  }
  return undefined;
}

/** Long input shortened for messages (a config value or a client's field is never echoed in full). */
export function capText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export const serverSchema = z
  .object({
    host: z
      .string()
      .min(1)
      // Checked here: `serve` failed on these with a bare getaddrinfo error that check-config had not seen.
      .superRefine((h, ctx) => {
        const problem = hostProblem(h);
        if (problem !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
      })
      .default('127.0.0.1'),
    port: int(0, 65_535).default(8080),
    bodyLimit: size().default('4mb'),
    /** Graceful shutdown: how long in-flight requests may take before connections are cut. */
    shutdownTimeout: duration().default('30s'),
    /** Idle keep-alive connections from clients are closed after this. */
    keepAliveTimeout: duration().default('72s'),
    /**
     * Request bodies nested deeper than this (objects and arrays) are refused with 400 before they are
     * parsed: very deep JSON parses, then overflows the stack wherever it is serialized again.
     */
    maxJsonDepth: int(1, 10_000).default(128),
    /** The whole request (headers and body) must arrive within this; a client trickling its body is cut with 408. */
    bodyTimeout: duration().default('30s'),
    /**
     * A streaming client that takes nothing of what is written for this long (its receive window stays
     * full) is cut like a hang-up: it would otherwise hold its adapter and the upstream request for as
     * long as it keeps the connection. `0` = never.
     */
    writeTimeout: duration().default('30s'),
    /**
     * A stream silent this long gets an SSE comment: proxies between client and gateway cut silent
     * connections. Before its first event the head (200) goes out with the first comment; between
     * events a comment follows within one more interval. `0` = never.
     */
    streamKeepAlive: duration().default('15s'),
    /** Client connections open at once; more are refused (closed at once). `0` = no cap. */
    maxConnections: int(0).default(10_000),
    /** Reload the config when its file changes (like `serve --watch`). */
    watchConfig: bool().default(false),
    /** Quiet time after the last change in the config's directory before a watched reload runs. */
    reloadDebounce: duration().default('300ms'),
  })
  .strict();

/** `sha256:<64 hex>`: the SHA-256 digest of a client key, so a config can be committed without the secret. */
export const KEY_HASH_RE = /^sha256:[0-9a-fA-F]{64}$/;

/**
 * A named client key with its own models and limits. Its `name` goes into log lines, metric labels
 * and the usage ledger; the key itself never does.
 */
export const clientKeySchema = z
  .object({
    name: z.string().regex(NAME_RE, 'key names use letters, digits, _ . -'),
    /** The key itself (usually `${ENV_VAR}`). Exactly one of `key` and `keyHash`. */
    key: z.string().min(1, 'key is empty (an unset ${VAR}?)').optional(),
    /** `sha256:<hex>` of the key. */
    keyHash: z.string().regex(KEY_HASH_RE, 'keyHash must be "sha256:" followed by 64 hex digits').optional(),
    /** Gateway models this key may use; absent = all. */
    models: z.array(z.string().min(1)).min(1).optional(),
    /** Requests per minute; absent = unlimited. */
    rpm: int(1).optional(),
    /** Prompt + completion tokens per minute; absent = unlimited. */
    tpm: int(1).optional(),
    /** Requests in flight at once; absent = unlimited. */
    maxConcurrent: int(1).optional(),
  })
  .strict()
  .superRefine((k, ctx) => {
    if ((k.key === undefined) === (k.keyHash === undefined)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['key'], message: 'give exactly one of key and keyHash' });
    }
  });

export const authSchema = z
  .object({
    /** Empty entries (e.g. an unset `${VAR:-}`) are dropped; no keys = no auth on the API routes. */
    apiKeys: z.array(z.string()).default([]).transform((keys) => keys.filter((k) => k !== '')),
    /** Named keys with their own models and limits (see clientKeySchema); used alongside `apiKeys`. */
    keys: z.array(clientKeySchema).optional(),
    /** Empty = unset. */
    adminKey: z
      .string()
      .optional()
      .transform((k) => (k === '' ? undefined : k)),
  })
  .strict();

/** Limits that a deployment may override for its own `model:provider` pool. */
const poolLimitsShape = {
  maxPoolSize: int(1, 10_000),
  minPoolSize: int(0, 10_000),
  /** At least 1ms: with 0 a caller that needed a new adapter timed out before its create could finish. */
  acquireTimeout: positiveDuration(),
  maxUses: int(0),
  idleTimeout: positiveDuration(),
  maxLifetime: positiveDuration(),
};

export const poolOverrideSchema = z.object(poolLimitsShape).partial().strict();

export const poolSchema = z
  .object({
    maxPoolSize: poolLimitsShape.maxPoolSize.default(10),
    minPoolSize: poolLimitsShape.minPoolSize.default(2),
    acquireTimeout: poolLimitsShape.acquireTimeout.default('30s'),
    // Each retirement is a new upstream connection (and TLS handshake); 10,000 keeps 10 adapters on 10
    // connections for 100,000 requests, while maxLifetime still recycles them every 30 minutes.
    maxUses: poolLimitsShape.maxUses.default(10_000),
    idleTimeout: poolLimitsShape.idleTimeout.default('10m'),
    maxLifetime: poolLimitsShape.maxLifetime.default('30m'),
    cleanupInterval: positiveDuration().default('60s'),
    healthCheckInterval: positiveDuration().default('5m'),
    healthCheckTimeout: positiveDuration().default('10s'),
    /**
     * Backoff between failed creates (a pool whose upstream refuses the key or is down): doubles from
     * the first to the longest. Each retry is a request to the provider.
     */
    createRetryInitial: positiveDuration().default('100ms'),
    createRetryMax: positiveDuration().default('5s'),
    /** A create (connection and health check) slower than this frees its slot; what it makes later is closed. */
    createTimeout: positiveDuration().default('30s'),
    /** Failed health checks in a row before an unhealthy adapter is replaced. */
    maxFailedHealthChecks: int(1, 1_000).default(3),
    /** Warn (`adapter_leak_suspected`, `pool_leaks_total`) when an adapter is held longer; 0 = off. */
    leakDetection: duration().default(0),
    /** At shutdown, how long the pools wait for lent adapters before closing them anyway. */
    closeTimeout: positiveDuration().default('10s'),
    /** Adapters across all pools; unset = no global limit. */
    maxTotal: int(1).optional(),
    /** Callers queued per pool before new ones are refused at once; unset = unlimited. */
    maxWaiters: int(0).optional(),
  })
  .strict();

const d = DEFAULT_ROUTING_CONFIG;
export const routingSchema = z
  .object({
    maxAttempts: int(1, 100).default(d.maxAttempts),
    maxAttemptsPerDeployment: int(1, 100).default(d.maxAttemptsPerDeployment),
    /** At least 1ms: 0 turned the budget off but also every retry (the deadline was already past). */
    requestTimeout: positiveDuration().default(formatDuration(d.requestTimeoutMs)),
    retryBackoffInitial: duration().default(formatDuration(d.retryBackoffInitialMs)),
    retryBackoffMax: duration().default(formatDuration(d.retryBackoffMaxMs)),
    retryJitter: z.enum(['full', 'decorrelated']).default(d.retryJitter),
    maxRetryAfter: duration().default(formatDuration(d.maxRetryAfterMs)),
    circuitConsecutiveFailures: int(1).default(d.circuitConsecutiveFailures),
    circuitFailureRate: num(0, 1).default(d.circuitFailureRate),
    circuitWindow: positiveDuration().default(formatDuration(d.circuitWindowMs)),
    circuitMinRequests: int(1).default(d.circuitMinRequests),
    circuitCooldown: duration().default(formatDuration(d.circuitCooldownMs)),
    fullPoolWait: duration().default(formatDuration(d.fullPoolWaitMs)),
  })
  .strict();

const mockSchema = z
  .object({
    latency: duration().optional(),
    chunks: int(1, 10_000).optional(),
    chunkDelay: duration().optional(),
    reply: z.string().optional(),
    failRate: num(0, 1).optional(),
    failStatus: int(400, 599).optional(),
    unhealthy: bool().optional(),
    /** Length of the deterministic embedding vectors. */
    dimensions: int(1, 65_536).optional(),
  })
  .strict();

export const providerSchema = z
  .object({
    type: z.string().min(1),
    baseUrl: httpUrl().optional(),
    apiKey: z.string().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    apiVersion: z.string().optional(),
    deployment: z.string().optional(),
    anthropicVersion: z.string().optional(),
    defaultMaxTokens: int(1).optional(),
    connectTimeout: duration().default('10s'),
    /** Request sent -> first byte. Long because reasoning models think before answering. */
    firstByteTimeout: duration().default('5m'),
    /** Silence between two body chunks. */
    idleTimeout: duration().default('60s'),
    healthCheck: z.enum(['models', 'completion']).default('models'),
    /** One non-streamed upstream response (a completion, an error body); over it: 502 upstream_response_too_large. */
    maxResponseSize: size().default('16mb'),
    /** One SSE event of a stream; over it the stream ends with the same error. */
    maxEventSize: size().default('8mb'),
    /** OpenAI-compatible types: ask for usage in streams (`stream_options.include_usage`). Default per type. */
    streamUsage: bool().optional(),
    mock: mockSchema.optional(),
  })
  .strict();

export const deploymentSchema = z
  .object({
    /** Stable identity across reloads (for renames); default: gateway model + provider + upstream model. */
    id: z.string().min(1).optional(),
    provider: z.string().min(1),
    /** Upstream model id; defaults to the gateway model name. */
    model: z.string().min(1).optional(),
    weight: num(0, 1_000_000).default(1),
    priority: int(0).default(0),
    pool: poolOverrideSchema.optional(),
    /** Requests per minute this deployment may receive (the upstream account's limit); absent = unlimited. */
    rpm: int(1).optional(),
    /** Prompt + completion tokens per minute for this deployment; absent = unlimited. */
    tpm: int(1).optional(),
  })
  .strict();

/** Prices per million tokens, in the config's currency (for the usage ledger's `cost`). */
export const pricingSchema = z
  .object({
    input: num(0, 1_000_000),
    output: num(0, 1_000_000),
  })
  .strict();

export const modelSchema = z
  .object({
    strategy: z.enum(STRATEGIES).default('round_robin'),
    /** Endpoints this model serves; a request to another one gets 400 naming the right one. */
    endpoints: z
      .array(z.enum(ENDPOINTS))
      .min(1)
      .default(['chat'])
      .transform((e) => [...new Set(e)]),
    providers: z.array(deploymentSchema).min(1),
    pricing: pricingSchema.optional(),
  })
  .strict();

export const limitsSchema = z
  .object({
    /**
     * Tokens reserved against `tpm` for the completion when a request sets no `max_tokens` /
     * `max_completion_tokens`; corrected from the upstream's usage when the response ends.
     */
    defaultMaxTokens: int(1).default(4096),
  })
  .strict();

/** Longest `usage.table`: `<table>_migrations`, the longest name derived from it, must fit PostgreSQL's 63-byte names. */
const USAGE_TABLE_MAX = 63 - '_migrations'.length;
/** The usage ledger: one row per chat request. */
export const usageSchema = z
  .object({
    /** Record usage at all. */
    enabled: bool().default(true),
    /** SQLite file (used unless `postgres` is set). */
    path: z.string().min(1).default('./adapterpool-usage.db'),
    /** `postgres://…`: store the ledger in PostgreSQL instead (several replicas share it). Empty = unset. */
    postgres: z
      .string()
      .optional()
      .transform((u) => (u === '' ? undefined : u))
      // Checked here as pg reads it: a URL it cannot parse started the gateway with a ledger that
      // was down from the first row (a warning, then every row dropped).
      .superRefine((v, ctx) => {
        if (v === undefined) return;
        const problem = postgresUrlProblem(v);
        if (problem !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${problem} (${capText(maskUrl(v), 200)}): use postgres://[user[:password]@]host[:port]/database` });
      }),
    /**
     * Table name (letters, digits, _), in both stores; quoted in SQL, so a reserved word (`user`,
     * `order`) works. At most 52 characters: the ledger also creates `<table>_migrations` and indexes
     * such as `<table>_key_ts`, and PostgreSQL cuts names at 63 bytes (two of them would collide).
     */
    table: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'table names use letters, digits and _')
      .max(USAGE_TABLE_MAX, `at most ${USAGE_TABLE_MAX} characters: the ledger also creates <table>_migrations, and PostgreSQL cuts names at 63 bytes`)
      .refine((t) => !/^sqlite_/i.test(t), 'names starting with sqlite_ are reserved by SQLite')
      .default('adapterpool_usage'),
    /** Rows older than this many days are deleted; 0 = keep forever. */
    retentionDays: int(0).default(90),
    /** How often old rows are pruned. */
    pruneInterval: positiveDuration().default('1h'),
    /**
     * Rows written per batch. 50, not 500: rows wait on the event loop's heap until their batch goes
     * (at 5,000 req/s, 500 rows is 100 ms of them), and that cost every request at one connection
     * 12-40 µs of mean latency (three A/B runs); 50 measured the same throughput at 50 connections.
     */
    batchSize: int(1, 100_000).default(50),
    /** Buffered rows are written at least this often (and retried this often while the store is down). */
    flushInterval: positiveDuration().default('1s'),
    /** Rows held in memory while the store is slow or down; past it, new rows are dropped and counted. */
    maxBuffer: int(1).default(100_000),
    /**
     * The longest the ledger waits on its store: connecting to PostgreSQL, each query (a write,
     * `GET /v1/usage`, pruning), and the last write at shutdown. A store that does not answer in time
     * counts as down (writes are retried, `GET /v1/usage` answers 503, rows unwritten at shutdown are
     * dropped and counted). At most 2^31-1 ms (Node's timer limit).
     */
    queryTimeout: positiveDuration().default('10s'),
  })
  .strict();

export const loggingSchema = z
  .object({
    level: z.enum(LOG_LEVELS).default('info'),
    /** Put the request's messages in its log line (debugging only: prompts may hold personal data). */
    logPrompts: bool().default(false),
    /** `json` (pino lines), `pretty` (readable lines), `auto` = pretty when stdout is a terminal, else JSON. */
    format: z.enum(LOG_FORMATS).default('auto'),
    /** How long a JSON line may wait for others to share its `write` to stdout (0 = one write per line). */
    flushInterval: duration().default('10ms'),
  })
  .strict();

export const metricsSchema = z
  .object({
    /** Serve `GET /metrics` (Prometheus text; same auth as `GET /v1/pool/*`). */
    enabled: bool().default(true),
    /** Also export Node's process metrics (prom-client's standard `process_*`, `nodejs_*`, unprefixed). */
    processMetrics: bool().default(true),
    /** How far back the dashboard's charts go (kept in memory). */
    history: duration().default('15m'),
    /** Width of one point of those charts; history / historyStep points are kept per model and deployment. */
    historyStep: duration().default('5s'),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.historyStep < 1000) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['historyStep'], message: `historyStep must be at least 1s` });
    else if (m.history < m.historyStep * 2) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['history'], message: `history must hold at least two historySteps` });
    else if (m.history / m.historyStep > 10_000) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['history'], message: `history / historyStep must be at most 10000 points` });
  });

export const clusterSchema = z
  .object({
    /** `redis://host:port[/db]`; absent or empty = a single process, no shared state. */
    redis: z
      .string()
      .optional()
      .transform((v) => (v === '' ? undefined : v))
      // Checked here as ioredis reads it: a URL it cannot parse made `serve` exit with a bare
      // "Invalid URL" though check-config had passed it.
      .superRefine((v, ctx) => {
        if (v === undefined) return;
        const problem = redisUrlProblem(v);
        if (problem !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${problem} (${capText(maskUrl(v), 200)}): use redis://[:password@]host:port[/db] or rediss://…` });
      }),
    /** Every Redis key and channel is under this prefix (each key also has a TTL). */
    prefix: z.string().default('adapterpool:'),
    /** This replica's name in the fleet view; empty = hostname:pid. */
    replicaId: z.string().default(''),
    /** A Redis command slower than this fails and the request goes on with local state. */
    commandTimeout: positiveDuration().default('50ms'),
    connectTimeout: positiveDuration().default('1s'),
    /** How often a replica publishes its snapshot, and how long it stays visible after its last one. */
    snapshotInterval: positiveDuration().default('2s'),
    snapshotTtl: positiveDuration().default('10s'),
    /** How often shared circuits are read back (pub/sub carries changes sooner; this catches what it dropped). */
    circuitPollInterval: positiveDuration().default('500ms'),
  })
  .strict();

/** The sections as zod checks them one by one (so a broken section does not hide another one's errors). */
export const configShape = {
  server: serverSchema.default({}),
  auth: authSchema.default({}),
  pool: poolSchema.default({}),
  routing: routingSchema.default({}),
  logging: loggingSchema.default({}),
  metrics: metricsSchema.default({}),
  limits: limitsSchema.default({}),
  usage: usageSchema.default({}),
  cluster: clusterSchema.default({}),
  providers: z.record(z.string().regex(NAME_RE, 'provider names use letters, digits, _ . -'), providerSchema),
  models: z.record(z.string().min(1), modelSchema),
};

/** What the cross-field checks need; any part may be missing when its section failed its own checks. */
export interface CrossCheckInput {
  pool?: { minPoolSize: number; maxPoolSize: number; createRetryInitial?: number; createRetryMax?: number } | undefined;
  routing?: { retryBackoffInitial: number; retryBackoffMax: number } | undefined;
  /** `auth.apiKeys` and `auth.adminKey`, when valid. */
  apiKeys?: readonly string[] | undefined;
  adminKey?: string | undefined;
  /** Every provider name written in the file (valid or not), so a reference to a broken provider is not "unknown". */
  providerNames?: readonly string[] | undefined;
  /** Types of the providers that are valid on their own. */
  providerTypes?: Readonly<Record<string, string>> | undefined;
  models?:
    | Record<
        string,
        | {
            endpoints?: readonly string[] | undefined;
            providers: ReadonlyArray<
              { provider: string; model?: string | undefined; id?: string | undefined; pool?: { minPoolSize?: number | undefined; maxPoolSize?: number | undefined } | undefined } | undefined
            >;
          }
        | undefined
      >
    | undefined;
  /** Every model name written in the file (valid or not). */
  modelNames?: readonly string[] | undefined;
  /** `auth.keys`; an entry that failed its own checks is undefined. */
  keys?: ReadonlyArray<{ name: string; key?: string | undefined; keyHash?: string | undefined; models?: readonly string[] | undefined } | undefined> | undefined;
}

/**
 * Checks across fields, each problem reported once where it is written: a deployment's pool
 * limits are only checked when the deployment itself sets one of them (else the `pool` section's
 * issue covers it).
 */
export function crossCheck(cfg: CrossCheckInput, add: (path: Array<string | number>, message: string) => void): void {
  if (cfg.pool && cfg.pool.minPoolSize > cfg.pool.maxPoolSize) {
    add(['pool', 'minPoolSize'], `minPoolSize (${cfg.pool.minPoolSize}) exceeds maxPoolSize (${cfg.pool.maxPoolSize})`);
  }
  const retry = cfg.pool;
  if (retry?.createRetryInitial !== undefined && retry.createRetryMax !== undefined && retry.createRetryMax < retry.createRetryInitial) {
    add(['pool', 'createRetryMax'], `createRetryMax (${formatDuration(retry.createRetryMax)}) is shorter than createRetryInitial (${formatDuration(retry.createRetryInitial)})`);
  }
  const backoff = cfg.routing;
  if (backoff !== undefined && backoff.retryBackoffMax < backoff.retryBackoffInitial) {
    add(['routing', 'retryBackoffMax'], `retryBackoffMax (${formatDuration(backoff.retryBackoffMax)}) is shorter than retryBackoffInitial (${formatDuration(backoff.retryBackoffInitial)})`);
  }
  checkKeyOverlap(cfg, add);
  if (cfg.models === undefined) return;
  const modelNames = cfg.modelNames ?? Object.keys(cfg.models);
  // Counted as written: a model with errors of its own is one (it is reported, not missing).
  if (modelNames.length === 0) add(['models'], 'at least one model is required');
  const names = new Set<string>();
  cfg.keys?.forEach((k, i) => {
    if (k === undefined) return;
    // '' stands for a name that is missing or not text (reported by the schema), not for a name.
    if (k.name !== '' && names.has(k.name)) add(['auth', 'keys', i, 'name'], `duplicate key name "${k.name}"`);
    names.add(k.name);
    k.models?.forEach((m, j) => {
      if (!modelNames.includes(m)) add(['auth', 'keys', i, 'models', j], `unknown model "${m}" (defined: ${modelNames.join(', ') || 'none'})`);
    });
  });
  const known = cfg.providerNames;
  const ids = new Set<string>();
  for (const [name, model] of Object.entries(cfg.models)) {
    const pools = new Set<string>();
    model?.providers.forEach((dep, i) => {
      if (dep === undefined) return;
      // Both entries would be one pool and one circuit: their weights and limits could not both hold.
      const pool = poolKey(dep.model ?? name, dep.provider);
      if (pools.has(pool)) add(['models', name, 'providers', i], `model "${name}" lists provider "${dep.provider}" with upstream model "${dep.model ?? name}" twice (one pool, one circuit): list it once, with the weight both were meant to have`);
      pools.add(pool);
      if (dep.id !== undefined) {
        if (ids.has(dep.id)) add(['models', name, 'providers', i, 'id'], `duplicate deployment id "${dep.id}"`);
        ids.add(dep.id);
      }
      const type = cfg.providerTypes?.[dep.provider];
      if (known !== undefined && !known.includes(dep.provider)) {
        add(['models', name, 'providers', i, 'provider'], `unknown provider "${dep.provider}" (defined: ${known.join(', ') || 'none'})`);
      } else if (type !== undefined && model.endpoints?.includes('embeddings') === true && TYPES_WITHOUT_EMBEDDINGS.includes(type)) {
        add(['models', name, 'providers', i, 'provider'], `model "${name}" serves embeddings, but provider "${dep.provider}" (type ${type}) has no embeddings endpoint`);
      }
      if (cfg.pool === undefined || (dep.pool?.minPoolSize === undefined && dep.pool?.maxPoolSize === undefined)) return;
      const min = dep.pool.minPoolSize ?? cfg.pool.minPoolSize;
      const max = dep.pool.maxPoolSize ?? cfg.pool.maxPoolSize;
      if (min > max) add(['models', name, 'providers', i, 'pool'], `minPoolSize (${min}) exceeds maxPoolSize (${max})`);
    });
  }
}

/**
 * A client key may be listed once across `adminKey`, `keys` (by `key` or `keyHash`) and `apiKeys`:
 * the first match wins when a request is checked, so a second listing silently lost its limits,
 * its model list or its ledger name, and a client key equal to the admin key could administer.
 * Compared by SHA-256, so a `keyHash` meets its plain `key`; the secret is never in the message.
 */
function checkKeyOverlap(cfg: CrossCheckInput, add: (path: Array<string | number>, message: string) => void): void {
  const first = new Map<string, string>();
  const claim = (hashHex: string, path: Array<string | number>, what: string, same: (where: string) => string): void => {
    const where = first.get(hashHex);
    if (where !== undefined) add(path, same(where));
    else first.set(hashHex, what);
  };
  const sha = (key: string) => createHash('sha256').update(key).digest('hex');
  // An empty value is refused on its own (usually an unset ${VAR}): two of them are not one key listed twice.
  if (cfg.adminKey !== undefined && cfg.adminKey !== '') first.set(sha(cfg.adminKey), 'auth.adminKey');
  const onceOnly = 'a key may be listed once (the first listing decides who the client is)';
  cfg.keys?.forEach((k, i) => {
    if (k === undefined || k.key === '' || k.keyHash === '' || (k.key === undefined && k.keyHash === undefined)) return;
    const hashHex = k.key !== undefined ? sha(k.key) : k.keyHash!.slice('sha256:'.length).toLowerCase();
    claim(hashHex, ['auth', 'keys', i], `auth.keys[${i}] ("${k.name}")`, (where) =>
      where.startsWith('auth.keys') ? `key "${k.name}" repeats another entry's key (${where})` : `key "${k.name}" is the same key as ${where}: a client key must differ from the admin key`,
    );
  });
  cfg.apiKeys?.forEach((key, i) => {
    claim(sha(key), ['auth', 'apiKeys', i], `auth.apiKeys[${i}]`, (where) =>
      where === 'auth.adminKey' ? 'the same key as auth.adminKey: a client key must differ from the admin key' : `the same key as ${where}: ${onceOnly}; drop it here to keep that entry's models, limits and ledger name`,
    );
  });
}

export const configSchema = z
  .object(configShape)
  .strict()
  .superRefine((cfg, ctx) => {
    const providerTypes = Object.fromEntries(Object.entries(cfg.providers).map(([n, p]) => [n, p.type]));
    crossCheck(
      { ...cfg, providerNames: Object.keys(cfg.providers), providerTypes, keys: cfg.auth.keys, apiKeys: cfg.auth.apiKeys, adminKey: cfg.auth.adminKey },
      (path, message) => ctx.addIssue({ code: z.ZodIssueCode.custom, path, message }),
    );
  });

/** The config as written (before defaults). */
export type GatewayConfigInput = z.input<typeof configSchema>;
/** The resolved config: defaults applied, durations in ms, sizes in bytes. */
export type GatewayConfig = z.output<typeof configSchema>;
export type ProviderEntry = GatewayConfig['providers'][string];
export type ModelEntry = GatewayConfig['models'][string];
export type DeploymentEntry = ModelEntry['providers'][number];
export type PoolOverride = z.output<typeof poolOverrideSchema>;
export type ClientKeyEntry = NonNullable<GatewayConfig['auth']['keys']>[number];
export type UsageConfig = GatewayConfig['usage'];
export type Pricing = z.output<typeof pricingSchema>;
