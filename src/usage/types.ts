/** The usage ledger: one row per chat request, in SQLite or PostgreSQL behind `UsageStore`. */

export interface UsageRow {
  /** Unique per row (a UUID): makes a retried batch idempotent. */
  id: string;
  /** When the request arrived, ms since the epoch. */
  ts: number;
  requestId: string;
  /** The client key's name (null: an unnamed `apiKeys` key, the admin key, or an open gateway). */
  key: string | null;
  /** The gateway model the client asked for. */
  model: string;
  /** The deployment that served it (`model:provider`), null when none did. */
  deployment: string | null;
  status: number;
  errorCode: string | null;
  /** As the upstream reported them; null when it reported none. */
  promptTokens: number | null;
  completionTokens: number | null;
  totalTokens: number | null;
  latencyMs: number;
  /** Streams: request arrival to the first chunk. */
  ttftMs: number | null;
  stream: boolean;
  /** From the model's `pricing` and the tokens; null without either. */
  cost: number | null;
}

export const GROUP_BY = ['key', 'model', 'deployment', 'day'] as const;
export type UsageGroupBy = (typeof GROUP_BY)[number];

export interface UsageQuery {
  /** Inclusive, ms since the epoch. */
  from: number;
  /** Exclusive, ms since the epoch. */
  to: number;
  groupBy: UsageGroupBy;
  /** Only this key's rows (a client key sees its own); null = rows of unnamed keys. */
  key?: string | null;
}

/** One group of `GET /v1/usage`. */
export interface UsageGroup {
  /** The key name, model, deployment or UTC day (`YYYY-MM-DD`); null for rows without one. */
  group: string | null;
  requests: number;
  /** Rows with a status >= 400. */
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Sum of the rows' costs; 0 when none carries one (see `priced_requests`). */
  cost: number;
  /** Rows that carry a cost (their model had `pricing` and the upstream reported tokens): 0 = no price known, not free. */
  priced_requests: number;
}

/** `usage.queryTimeout`'s default (the config schema says `10s`): a store's calls give up after it. */
export const DEFAULT_STORE_TIMEOUT_MS = 10_000;

export interface UsageStore {
  /**
   * `usage.queryTimeout`: the longest a call waits on the store before it rejects (PostgreSQL:
   * connecting, and each query). The ledger's close() waits no longer for its last write.
   * Absent: `DEFAULT_STORE_TIMEOUT_MS`.
   */
  readonly timeoutMs?: number;
  /** Open and create / migrate the schema. Idempotent; throws while the store is unreachable. */
  init(): Promise<void>;
  /** Write rows atomically (all or none); rows whose id is already stored are skipped. */
  insert(rows: readonly UsageRow[]): Promise<void>;
  /** Delete rows older than `before` (ms); resolves with how many. */
  prune(before: number): Promise<number>;
  summary(q: UsageQuery): Promise<UsageGroup[]>;
  /** Rows in [from, to), oldest first (tests, exports). */
  rows(from: number, to: number): Promise<UsageRow[]>;
  close(): Promise<void>;
}

/** Cost of a request from per-million prices. */
export function costOf(pricing: { input: number; output: number } | undefined, prompt: number | null, completion: number | null): number | null {
  if (pricing === undefined || prompt === null || completion === null) return null;
  return (prompt * pricing.input + completion * pricing.output) / 1_000_000;
}
