import type { UsageGroup, UsageGroupBy, UsageRow } from './types.js';

/** Column names and order shared by both stores. */
export const COLUMNS = [
  'id',
  'ts',
  'request_id',
  'key_name',
  'model',
  'deployment',
  'status',
  'error_code',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'latency_ms',
  'ttft_ms',
  'stream',
  'cost',
] as const;

/** Rows' values in `COLUMNS` order, one row after another in one array (one structured clone, no array per row). */
export function flatRowValues(rows: readonly UsageRow[]): Array<string | number | null> {
  const out: Array<string | number | null> = [];
  for (const r of rows) {
    out.push(r.id, r.ts, r.requestId, r.key, r.model, r.deployment, r.status, r.errorCode, r.promptTokens, r.completionTokens, r.totalTokens);
    out.push(Math.round(r.latencyMs), r.ttftMs === null ? null : Math.round(r.ttftMs), r.stream ? 1 : 0, r.cost);
  }
  return out;
}

export function rowFrom(rec: Record<string, unknown>): UsageRow {
  const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
  return {
    id: String(rec.id),
    ts: Number(rec.ts),
    requestId: String(rec.request_id),
    key: (rec.key_name as string | null) ?? null,
    model: String(rec.model),
    deployment: (rec.deployment as string | null) ?? null,
    status: Number(rec.status),
    errorCode: (rec.error_code as string | null) ?? null,
    promptTokens: n(rec.prompt_tokens),
    completionTokens: n(rec.completion_tokens),
    totalTokens: n(rec.total_tokens),
    latencyMs: Number(rec.latency_ms),
    ttftMs: n(rec.ttft_ms),
    stream: Number(rec.stream) === 1,
    cost: n(rec.cost),
  };
}

/** The grouped column of a summary (the day expression is the store's own). */
export function groupColumn(groupBy: UsageGroupBy, dayExpr: string): string {
  switch (groupBy) {
    case 'key':
      return 'key_name';
    case 'model':
      return 'model';
    case 'deployment':
      return 'deployment';
    case 'day':
      return dayExpr;
  }
}

/**
 * An identifier quoted for SQL, in either store: `usage.table` may be a reserved word (`user`,
 * `order`) that would be a syntax error bare.
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A summary group from either store's row (PostgreSQL returns its sums as strings). */
export function toGroup(r: Record<string, unknown>): UsageGroup {
  return {
    group: r.grp === null || r.grp === undefined ? null : String(r.grp),
    requests: Number(r.requests),
    errors: Number(r.errors),
    prompt_tokens: Number(r.prompt_tokens),
    completion_tokens: Number(r.completion_tokens),
    total_tokens: Number(r.total_tokens),
    cost: Number(r.cost),
    priced_requests: Number(r.priced_requests),
  };
}
