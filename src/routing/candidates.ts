import type { Deployment } from './types.js';

/**
 * Choices among a request's candidate deployments that depend only on the lists: whether another
 * could serve, and which one a request spills to. The router decides when to ask.
 */

/** Another of `candidates` could serve instead of `d` (with strict priority: one of the same or a better tier). */
export function hasAlternative(candidates: readonly Deployment[], d: Deployment, strictPriority: boolean): boolean {
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (c !== d && (!strictPriority || c.priority <= d.priority)) return true;
  }
  return false;
}

export const alwaysTrue = (): boolean => true;

/**
 * The first of `candidates` after `from` in route order (wrapping), other than `from`, that `ok`
 * accepts; with strict priority only one of the same or a better tier. Spilling in a fixed order
 * keeps the strategy's own state (round robin's turn, least-connections' tie rotation) at one step
 * per request.
 */
export function nextAfter(candidates: readonly Deployment[], all: readonly Deployment[], from: Deployment, strict: boolean, ok: (d: Deployment) => boolean): Deployment | undefined {
  const n = all.length;
  const start = all.indexOf(from);
  for (let k = 1; k <= n; k++) {
    const c = all[(start + k) % n]!;
    if (c === from || (strict && c.priority > from.priority) || !candidates.includes(c)) continue;
    if (ok(c)) return c;
  }
  return undefined;
}
