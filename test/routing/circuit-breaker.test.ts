import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker, Permit, type CircuitState } from '../../src/routing/circuit-breaker.js';

function breaker(overrides: Partial<ConstructorParameters<typeof CircuitBreaker>[0]> = {}) {
  const clock = { t: 1_000_000 };
  const transitions: string[] = [];
  const b = new CircuitBreaker({
    consecutiveFailures: 3,
    failureRate: 0.5,
    windowMs: 10_000,
    minRequests: 10,
    cooldownMs: 5_000,
    now: () => clock.t,
    onStateChange: (to: CircuitState, from: CircuitState) => transitions.push(`${from}->${to}`),
    ...overrides,
  });
  return { b, clock, transitions };
}

describe('CircuitBreaker', () => {
  it('opens after N consecutive failures and denies until the cooldown ends', () => {
    const { b, clock, transitions } = breaker();
    for (let i = 0; i < 2; i++) b.onFailure(b.tryAcquire());
    assert.equal(b.state, 'closed');
    b.onFailure(b.tryAcquire());
    assert.equal(b.state, 'open');
    assert.deepEqual(transitions, ['closed->open']);
    assert.equal(b.canPass(), false);
    assert.equal(b.tryAcquire(), Permit.Denied);
    assert.equal(b.retryAfterMs(), 5_000);
    clock.t += 4_999;
    assert.equal(b.tryAcquire(), Permit.Denied);
    assert.equal(b.retryAfterMs(), 1);
  });

  it('a success resets the consecutive count', () => {
    const { b } = breaker();
    b.onFailure(b.tryAcquire());
    b.onFailure(b.tryAcquire());
    b.onSuccess(b.tryAcquire());
    b.onFailure(b.tryAcquire());
    b.onFailure(b.tryAcquire());
    assert.equal(b.state, 'closed');
    assert.equal(b.consecutiveFailures, 2);
  });

  it('after the cooldown lets exactly one probe through (half-open); its success closes the circuit', () => {
    const { b, clock, transitions } = breaker();
    for (let i = 0; i < 3; i++) b.onFailure(b.tryAcquire());
    clock.t += 5_000;
    assert.equal(b.canPass(), true);
    const probe = b.tryAcquire();
    assert.equal(probe, Permit.Probe);
    assert.equal(b.state, 'half_open');
    assert.equal(b.canPass(), false);
    assert.equal(b.tryAcquire(), Permit.Denied, 'a second request while the probe is out');
    b.onSuccess(probe);
    assert.equal(b.state, 'closed');
    assert.equal(b.tryAcquire(), Permit.Normal);
    assert.deepEqual(transitions, ['closed->open', 'open->half_open', 'half_open->closed']);
  });

  it('a failed probe re-opens for another full cooldown', () => {
    const { b, clock } = breaker();
    for (let i = 0; i < 3; i++) b.onFailure(b.tryAcquire());
    clock.t += 5_000;
    b.onFailure(b.tryAcquire());
    assert.equal(b.state, 'open');
    assert.equal(b.retryAfterMs(), 5_000);
    clock.t += 5_000;
    assert.equal(b.tryAcquire(), Permit.Probe);
  });

  it('a neutral probe outcome (client error, abort) frees the probe slot without deciding', () => {
    const { b, clock } = breaker();
    for (let i = 0; i < 3; i++) b.onFailure(b.tryAcquire());
    clock.t += 5_000;
    b.onNeutral(b.tryAcquire());
    assert.equal(b.state, 'half_open');
    assert.equal(b.tryAcquire(), Permit.Probe);
  });

  it('late outcomes of requests let through before the circuit opened do not close or extend it', () => {
    const { b, clock } = breaker();
    const early = [b.tryAcquire(), b.tryAcquire(), b.tryAcquire(), b.tryAcquire()];
    for (let i = 0; i < 3; i++) b.onFailure(early[i]!);
    assert.equal(b.state, 'open');
    b.onSuccess(early[3]!);
    assert.equal(b.state, 'open');
    clock.t += 2_000;
    b.onFailure(Permit.Normal);
    assert.equal(b.retryAfterMs(), 3_000, 'cooldown not extended');
  });

  it('opens on a failure rate over the window with enough samples, not below minRequests', () => {
    const { b, clock } = breaker({ consecutiveFailures: 100 });
    // Alternate: 50% failure, never 2 in a row. 0.5 is not *over* 0.5.
    for (let i = 0; i < 10; i++) {
      if (i % 2 === 0) b.onFailure(b.tryAcquire());
      else b.onSuccess(b.tryAcquire());
      clock.t += 100;
    }
    assert.equal(b.state, 'closed');
    assert.equal(b.failureRate(), 0.5);
    b.onFailure(b.tryAcquire()); // 6/11
    assert.equal(b.state, 'open');
  });

  it('does not open on rate with fewer than minRequests samples', () => {
    const { b } = breaker({ consecutiveFailures: 100, minRequests: 10 });
    for (let i = 0; i < 9; i++) b.onFailure(b.tryAcquire());
    assert.equal(b.state, 'closed');
    assert.equal(b.failureRate(), 1);
  });

  it('forgets samples older than the window', () => {
    const { b, clock } = breaker({ consecutiveFailures: 100 });
    for (let i = 0; i < 8; i++) b.onFailure(b.tryAcquire());
    clock.t += 11_000;
    assert.deepEqual(b.windowCounts(), { total: 0, failures: 0 });
    for (let i = 0; i < 4; i++) b.onSuccess(b.tryAcquire());
    for (let i = 0; i < 5; i++) b.onFailure(b.tryAcquire()); // 5/9, below minRequests
    assert.equal(b.state, 'closed');
  });

  it('a circuit held open on another replica\'s word told its listeners retryAfterMs 0 (the cooldown was set after the transition): they see the hold', () => {
    const seen: number[] = [];
    const { b } = breaker({ onStateChange: (to: CircuitState) => void (to === 'open' && seen.push(b.retryAfterMs())) });
    assert.equal(b.hold(21_000), true);
    assert.deepEqual(seen, [21_000]);
  });

  it('trip() opens at once; probeNow() shortens the cooldown to now', () => {
    const { b } = breaker();
    b.trip();
    assert.equal(b.state, 'open');
    assert.equal(b.canPass(), false);
    b.probeNow();
    assert.equal(b.canPass(), true);
    assert.equal(b.tryAcquire(), Permit.Probe);
  });

  it('closing clears the window so the old failures cannot re-open it at once', () => {
    const { b, clock } = breaker({ consecutiveFailures: 100, minRequests: 4 });
    for (let i = 0; i < 4; i++) b.onFailure(b.tryAcquire());
    assert.equal(b.state, 'open');
    clock.t += 5_000;
    b.onSuccess(b.tryAcquire());
    assert.equal(b.state, 'closed');
    b.onFailure(b.tryAcquire());
    assert.equal(b.state, 'closed');
  });
});
