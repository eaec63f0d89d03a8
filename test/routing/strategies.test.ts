import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createStrategy,
  FailoverStrategy,
  LeastConnectionsStrategy,
  LowestLatencyStrategy,
  RoundRobinStrategy,
  STRATEGY_NAMES,
  WeightedStrategy,
} from '../../src/routing/strategies/index.js';
import type { Deployment } from '../../src/routing/types.js';
import { counts, dep, FakeView, longestRun, seeded } from './helpers.js';

const view = new FakeView();

function pickN(n: number, pick: () => Deployment): Deployment[] {
  const out: Deployment[] = [];
  for (let i = 0; i < n; i++) out.push(pick());
  return out;
}

describe('round_robin', () => {
  it('takes each deployment in turn: exactly equal shares, never the same twice in a row', () => {
    const ds = [dep('a'), dep('b'), dep('c')];
    const s = new RoundRobinStrategy();
    const picks = pickN(300, () => s.pick(ds));
    assert.deepEqual(counts(picks), { a: 100, b: 100, c: 100 });
    for (let i = 1; i < picks.length; i++) assert.notEqual(picks[i], picks[i - 1]);
  });

  it('keeps going over a subset (after failover removed one)', () => {
    const ds = [dep('a'), dep('b')];
    const s = new RoundRobinStrategy();
    assert.deepEqual(counts(pickN(10, () => s.pick(ds))), { a: 5, b: 5 });
    assert.equal(s.pick([ds[1]!]), ds[1]);
  });
});

describe('weighted (smooth weighted round robin)', () => {
  it('5:1:1 gives exactly 500:100:100 over 700 picks', () => {
    const ds = [dep('a', 5), dep('b', 1), dep('c', 1)];
    const s = new WeightedStrategy();
    const picks = pickN(700, () => s.pick(ds));
    assert.deepEqual(counts(picks), { a: 500, b: 100, c: 100 });
  });

  it('is smooth: every window of 7 consecutive picks holds exactly 5:1:1, and the heavy one never runs 5 in a row', () => {
    const ds = [dep('a', 5), dep('b', 1), dep('c', 1)];
    const s = new WeightedStrategy();
    const picks = pickN(700, () => s.pick(ds));
    for (let i = 0; i + 7 <= picks.length; i++) {
      assert.deepEqual(counts(picks.slice(i, i + 7)), { a: 5, b: 1, c: 1 }, `window at ${i}`);
    }
    // A naive weighted round robin sends a, a, a, a, a, b, c; the smooth one interleaves.
    assert.ok(longestRun(picks, 'a') < 5, `longest run of a: ${longestRun(picks, 'a')}`);
    assert.equal(longestRun(picks, 'b'), 1);
  });

  it('is deterministic: two instances give the same sequence', () => {
    const ds = [dep('a', 3), dep('b', 2), dep('c', 1)];
    const s1 = new WeightedStrategy();
    const s2 = new WeightedStrategy();
    assert.deepEqual(
      pickN(60, () => s1.pick(ds)).map((d) => d.provider),
      pickN(60, () => s2.pick(ds)).map((d) => d.provider),
    );
  });

  it('3:2 alternates with the 3 never twice in a row more than once per cycle', () => {
    const ds = [dep('a', 3), dep('b', 2)];
    const s = new WeightedStrategy();
    const picks = pickN(500, () => s.pick(ds));
    assert.deepEqual(counts(picks), { a: 300, b: 200 });
    assert.equal(longestRun(picks, 'a'), 2);
    assert.equal(longestRun(picks, 'b'), 1);
  });

  it('never picks a weight-0 deployment while another has weight; all zero means equal turns fall back to the first', () => {
    const ds = [dep('a', 0), dep('b', 2)];
    const s = new WeightedStrategy();
    assert.deepEqual(counts(pickN(20, () => s.pick(ds))), { b: 20 });
    assert.equal(s.pick([dep('x', 0), dep('y', 0)]).provider, 'x');
  });
});

describe('weighted: regression', () => {
  it('weighted strategy with every weight 0 always returns the first deployment', () => {
    const ds = [dep('a', 0), dep('b', 0), dep('c', 0)];
    const s = new WeightedStrategy();
    assert.deepEqual(counts(pickN(30, () => s.pick(ds))), { a: 10, b: 10, c: 10 }, 'equal weights take equal turns');
  });
});

describe('least_connections', () => {
  it('picks the fewest in use relative to the pool max', () => {
    const ds = [dep('a'), dep('b'), dep('c')];
    const v = new FakeView();
    v.inUse.set('m:a', 5).set('m:b', 1).set('m:c', 3);
    const s = new LeastConnectionsStrategy();
    for (let i = 0; i < 10; i++) assert.equal(s.pick(ds, v).provider, 'b');
  });

  it('fills pools of max 10 and 5 in proportion 2:1 when every pick holds its adapter', () => {
    const ds = [dep('big'), dep('small')];
    const v = new FakeView();
    v.max.set('m:big', 10).set('m:small', 5);
    const s = new LeastConnectionsStrategy();
    const picks = pickN(15, () => {
      const d = s.pick(ds, v);
      v.inUse.set(d.key, (v.inUse.get(d.key) ?? 0) + 1);
      return d;
    });
    assert.deepEqual(counts(picks), { big: 10, small: 5 });
    assert.equal(v.load(ds[0]!), 1);
    assert.equal(v.load(ds[1]!), 1);
  });

  it('rotates between equally loaded deployments (an idle gateway does not favour the first)', () => {
    const ds = [dep('a'), dep('b'), dep('c')];
    const s = new LeastConnectionsStrategy();
    assert.deepEqual(counts(pickN(300, () => s.pick(ds, view))), { a: 100, b: 100, c: 100 });
  });
});

describe('lowest_latency (EWMA + power of two choices)', () => {
  it('with 3 deployments: fastest ~2/3, middle ~1/3, slowest never', () => {
    const ds = [dep('fast'), dep('mid'), dep('slow')];
    const v = new FakeView();
    v.latency.set('m:fast', 10).set('m:mid', 20).set('m:slow', 40);
    const s = new LowestLatencyStrategy(seeded(42));
    const c = counts(pickN(3000, () => s.pick(ds, v)));
    assert.equal(c.slow, undefined);
    assert.ok(c.fast! > 1800 && c.fast! < 2200, `fast ${c.fast}`);
    assert.ok(c.mid! > 800 && c.mid! < 1200, `mid ${c.mid}`);
  });

  it('does not flood the fastest: with 2 deployments under 30 concurrent requests the slower one gets its share', () => {
    const ds = [dep('fast'), dep('slow')];
    const v = new FakeView();
    v.latency.set('m:fast', 10).set('m:slow', 20);
    const s = new LowestLatencyStrategy(seeded(7));
    // Keep 30 requests in flight: each pick holds until 30 later picks have been made.
    const window: Deployment[] = [];
    const picks = pickN(3000, () => {
      if (window.length === 30) {
        const done = window.shift()!;
        v.flight.set(done.key, v.flight.get(done.key)! - 1);
      }
      const d = s.pick(ds, v);
      v.flight.set(d.key, (v.flight.get(d.key) ?? 0) + 1);
      window.push(d);
      return d;
    });
    const c = counts(picks);
    // Balanced where 10 x (k+1) = 20 x (m+1): about 2:1.
    assert.ok(c.fast! > 1800 && c.fast! < 2200, `fast ${c.fast}`);
    assert.ok(c.slow! > 800 && c.slow! < 1200, `slow ${c.slow}`);
  });

  it('samples unmeasured deployments first', () => {
    const ds = [dep('known'), dep('new')];
    const v = new FakeView();
    v.latency.set('m:known', 5);
    const s = new LowestLatencyStrategy(seeded(1));
    assert.deepEqual(counts(pickN(10, () => s.pick(ds, v))), { new: 10 });
  });

  it('is deterministic given the random source', () => {
    const ds = [dep('a'), dep('b'), dep('c'), dep('d')];
    const v = new FakeView();
    v.latency.set('m:a', 30).set('m:b', 10).set('m:c', 20).set('m:d', 40);
    const a = new LowestLatencyStrategy(seeded(3));
    const b = new LowestLatencyStrategy(seeded(3));
    assert.deepEqual(
      pickN(100, () => a.pick(ds, v)).map((d) => d.provider),
      pickN(100, () => b.pick(ds, v)).map((d) => d.provider),
    );
  });
});

describe('failover (priority tiers)', () => {
  const t1a = dep('t1a', 1, 1);
  const t1b = dep('t1b', 1, 1);
  const t2 = dep('t2', 1, 2);
  const t3 = dep('t3', 1, 3);

  it('never picks tier 2 while tier 1 is up, and rotates within tier 1', () => {
    const s = new FailoverStrategy();
    const c = counts(pickN(1000, () => s.pick([t3, t2, t1a, t1b])));
    assert.deepEqual(c, { t1a: 500, t1b: 500 });
  });

  it('uses tier 2 only when every tier-1 deployment is gone, tier 3 only when tier 2 is too', () => {
    const s = new FailoverStrategy();
    assert.deepEqual(counts(pickN(10, () => s.pick([t1b, t2, t3]))), { t1b: 10 });
    assert.deepEqual(counts(pickN(10, () => s.pick([t2, t3]))), { t2: 10 });
    assert.deepEqual(counts(pickN(10, () => s.pick([t3]))), { t3: 10 });
    assert.equal(s.strictPriority, true);
  });
});

describe('createStrategy', () => {
  it('builds every named strategy and rejects unknown names', () => {
    for (const name of STRATEGY_NAMES) assert.equal(createStrategy(name).name, name);
    assert.throws(() => createStrategy('random' as never), /unknown routing strategy/);
  });
});
