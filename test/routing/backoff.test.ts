import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, retryDelay, type BackoffOptions } from '../../src/routing/backoff.js';
import { seeded } from './helpers.js';

const full: BackoffOptions = { initialMs: 100, maxMs: 2_000, jitter: 'full', maxRetryAfterMs: 10_000 };
const decorrelated: BackoffOptions = { ...full, jitter: 'decorrelated' };

describe('backoff', () => {
  it('full jitter stays in [0, min(max, initial*2^(n-1))] and spreads over it', () => {
    const r = seeded(11);
    for (let retry = 1; retry <= 8; retry++) {
      const ceiling = Math.min(2_000, 100 * 2 ** (retry - 1));
      let lo = Infinity;
      let hi = 0;
      for (let i = 0; i < 500; i++) {
        const d = backoffDelay(retry, 0, full, r);
        assert.ok(d >= 0 && d <= ceiling, `retry ${retry}: ${d}`);
        lo = Math.min(lo, d);
        hi = Math.max(hi, d);
      }
      assert.ok(lo < ceiling * 0.1 && hi > ceiling * 0.9, `retry ${retry} spread ${lo}..${hi}`);
    }
  });

  it('full jitter: the extremes of the random source give 0 and the ceiling', () => {
    assert.equal(backoffDelay(3, 0, full, () => 0), 0);
    assert.equal(backoffDelay(3, 0, full, () => 1), 400);
    assert.equal(backoffDelay(30, 0, full, () => 1), 2_000);
  });

  it('decorrelated jitter stays in [initial, min(max, previous*3)]', () => {
    const r = seeded(5);
    let prev = 0;
    for (let i = 0; i < 1_000; i++) {
      const d = backoffDelay(i + 1, prev, decorrelated, r);
      assert.ok(d >= 100 && d <= Math.min(2_000, Math.max(100, prev * 3)), `${d} after ${prev}`);
      prev = d;
    }
    assert.equal(backoffDelay(1, 1_500, decorrelated, () => 1), 2_000);
  });

  it('honours Retry-After (plus at most 10% jitter) up to the cap', () => {
    const r = seeded(9);
    for (let i = 0; i < 200; i++) {
      const d = retryDelay(1, 0, 3_000, full, r)!;
      assert.ok(d >= 3_000 && d <= 3_300, String(d));
    }
    assert.equal(retryDelay(1, 0, 10_000, full, () => 1), 10_000, 'never over the cap');
  });

  it('a Retry-After over the cap means: do not wait here (undefined = fail over)', () => {
    assert.equal(retryDelay(1, 0, 10_001, full, () => 0.5), undefined);
  });

  it('without Retry-After uses the backoff', () => {
    assert.equal(retryDelay(2, 0, undefined, full, () => 0.5), 100);
  });
});
