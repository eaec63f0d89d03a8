import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import { GROUP_BY, type UsageGroup, type UsageGroupBy, type UsageLedger, type UsageQuery } from '../../usage/index.js';
import type { PoolEnvelope } from '../types.js';

export const USAGE_MESSAGES = {
  ok: '获取用量统计成功',
  failed: '获取用量统计失败',
  badRequest: '用量查询参数无效',
  off: '用量账本未启用',
  unnamedKey: '无法按此密钥查询用量',
  otherKey: '无权查询其他密钥的用量',
} as const;

const DAY_MS = 86_400_000;
/** What the query string may hold: anything else is a 400, not a filter silently ignored. */
const PARAMS = ['from', 'to', 'group_by', 'key'] as const;

export interface UsageReport {
  from: string;
  to: string;
  group_by: UsageGroupBy;
  /** Present when the rows are one key's: the caller's own (a client key) or the `key` asked for. */
  key?: string | null;
  groups: UsageGroup[];
  total: Omit<UsageGroup, 'group'>;
}

/**
 * `GET /v1/usage?from=&to=&group_by=key|model|deployment|day&key=`: totals from the ledger, in the
 * `{success, data, message}` envelope. The admin key (or an open gateway) sees every key, or one with `key=<name>`; a
 * named client key sees its own rows. `from` / `to`: ISO 8601 or Unix seconds; default the last 24
 * hours. An unknown parameter is refused: a mistyped filter would otherwise report everyone's totals.
 */
export function registerUsageRoutes(app: FastifyInstance, opts: { ledger: UsageLedger | undefined; auth: onRequestAsyncHookHandler | undefined }): void {
  const { ledger } = opts;
  app.get<{ Querystring: Record<string, string | undefined> }>('/v1/usage', { onRequest: opts.auth ? [opts.auth] : [] }, async (request, reply): Promise<PoolEnvelope<UsageReport>> => {
    // Without a ledger there is nothing to sum: 404 (the dashboard's usage panel reads it as "off"), saying why.
    if (ledger === undefined) {
      reply.code(404);
      return { success: false, data: null, message: `${USAGE_MESSAGES.off}: the usage ledger is off on this gateway (usage.enabled: false)` };
    }
    // Keys of `auth.apiKeys` have no name: their rows all carry key null, so "its own rows" would be
    // every unnamed key's. Only a named key (or the admin key) may ask.
    if (request.clientKey !== undefined && !request.isAdmin && request.clientKey.name === undefined) {
      reply.code(403);
      return { success: false, data: null, message: `${USAGE_MESSAGES.unnamedKey}: this key has no name (auth.apiKeys), so its rows cannot be told from other unnamed keys'; use a named key (auth.keys) or the admin key` };
    }
    const q = request.query;
    const now = Date.now();
    // Default: up to and including the current millisecond (`to` is exclusive).
    const to = q.to === undefined ? now + 1 : parseTime(q.to);
    const from = q.from === undefined ? (to ?? now) - DAY_MS : parseTime(q.from);
    const groupBy = (q.group_by ?? 'key') as UsageGroupBy;
    const own = request.clientKey !== undefined && !request.isAdmin;
    let problem: string | undefined;
    const unknown = Object.keys(q).filter((k) => !(PARAMS as readonly string[]).includes(k));
    if (unknown.length > 0) problem = `unknown parameter ${unknown.map((k) => JSON.stringify(k)).join(', ')}: use ${PARAMS.join(', ')}`;
    else if (q.key !== undefined && (q.key === '' || Array.isArray(q.key))) problem = `invalid key=${JSON.stringify(q.key)}: one key name`;
    else if (to === undefined) problem = `invalid to=${JSON.stringify(q.to)}: use ISO 8601 or Unix seconds`;
    else if (from === undefined) problem = `invalid from=${JSON.stringify(q.from)}: use ISO 8601 or Unix seconds`;
    else if (from >= to) problem = 'from must be before to';
    else if (!(GROUP_BY as readonly string[]).includes(groupBy)) problem = `invalid group_by=${JSON.stringify(q.group_by)}: use ${GROUP_BY.join(', ')}`;
    if (problem === undefined && own && q.key !== undefined && q.key !== request.clientKey!.name) {
      reply.code(403);
      return { success: false, data: null, message: `${USAGE_MESSAGES.otherKey}: a client key sees its own usage only; leave out key, or use the admin key` };
    }
    if (problem !== undefined) {
      reply.code(400);
      return { success: false, data: null, message: `${USAGE_MESSAGES.badRequest}: ${problem}` };
    }
    const query: UsageQuery = { from: from!, to: to!, groupBy };
    // A client key sees its own rows; the admin key, or anyone on an open gateway, sees all or one key's.
    if (own) query.key = request.clientKey!.name!;
    else if (q.key !== undefined) query.key = q.key;
    try {
      // Include what is still buffered, unless the store just failed a write: then the query alone
      // decides, within usage.queryTimeout, instead of a write and a query one after the other.
      if (ledger.healthy !== false) {
        // That write failed (the store is down or hung): a query would wait its own timeout after it.
        if (!(await ledger.flush())) throw new Error('the usage store could not be written just now');
      }
      const groups = await ledger.store.summary(query);
      const total = { requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost: 0, priced_requests: 0 };
      for (const g of groups) {
        g.cost = roundCost(g.cost);
        total.requests += g.requests;
        total.errors += g.errors;
        total.prompt_tokens += g.prompt_tokens;
        total.completion_tokens += g.completion_tokens;
        total.total_tokens += g.total_tokens;
        total.cost += g.cost;
        total.priced_requests += g.priced_requests;
      }
      total.cost = roundCost(total.cost);
      const data: UsageReport = { from: new Date(query.from).toISOString(), to: new Date(query.to).toISOString(), group_by: groupBy, groups, total };
      if (query.key !== undefined) data.key = query.key;
      return { success: true, data, message: USAGE_MESSAGES.ok };
    } catch (err) {
      request.log.error({ event: 'usage_query_failed', err }, USAGE_MESSAGES.failed);
      reply.code(503);
      return { success: false, data: null, message: `${USAGE_MESSAGES.failed}: the usage store is unavailable` };
    }
  });
}

/** Sums of binary fractions (`0.00014000000000000001`) shown to 12 decimals: far below any price's precision. */
const roundCost = (cost: number): number => Math.round(cost * 1e12) / 1e12;

/** ISO 8601 (`2026-11-29`, `2026-11-29T10:00:00Z`, `2026-11-29T10:00` as UTC) or Unix seconds. */
function parseTime(v: string): number | undefined {
  if (/^\d{1,12}(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const ymd = /^(\d{4})-(\d{2})-(\d{2})/.exec(v);
  if (ymd === null) return undefined;
  // Date.parse rolls an impossible day over (2026-02-30 is March 2nd): a typo must not move the range.
  const [year, month, day] = [Number(ymd[1]), Number(ymd[2]), Number(ymd[3])];
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return undefined;
  // A date-time without an offset is UTC, as days are: Date.parse would read it in the host's time
  // zone, and replicas with different TZ settings would answer the same query differently.
  const t = Date.parse(/T[^Zz+-]*$/.test(v) ? `${v}Z` : v);
  return Number.isNaN(t) ? undefined : t;
}
