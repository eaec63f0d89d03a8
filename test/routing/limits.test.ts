import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { estimatePromptTokens, FlexibleLimiter, reservationTokens } from '../../src/routing/index.js';
import { formatReset, rateLimitHeaders } from '../../src/server/rate-limits.js';

describe('FlexibleLimiter', () => {
  test('a refused request consumes nothing: the counts stay exact', async () => {
    const l = new FlexibleLimiter({ windowMs: 60_000 });
    const limits = { rpm: 2, tpm: 100 };
    assert.equal((await l.admit('s', limits, 60)).ok, true);
    const tooBig = await l.admit('s', limits, 60); // tokens refuse it
    assert.equal(tooBig.ok, false);
    assert.equal(!tooBig.ok && tooBig.reason, 'tokens');
    const status = await l.peek('s', limits);
    assert.equal(status.requests!.remaining, 1, 'the refused request was not counted');
    assert.equal(status.tokens!.remaining, 40, 'its tokens were not kept');
    assert.equal((await l.admit('s', limits, 40)).ok, true);
    const over = await l.admit('s', limits, 0);
    assert.equal(!over.ok && over.reason, 'requests');
    assert.equal((await l.peek('s', limits)).requests!.remaining, 0);
    l.close();
  });

  test('settle moves the token count to what was used, once', async () => {
    const l = new FlexibleLimiter({ windowMs: 60_000 });
    const a = await l.admit('k', { tpm: 1000 }, 500);
    assert.ok(a.ok);
    assert.equal(a.reservation.reservedTokens, 500);
    assert.equal((await l.peek('k', { tpm: 1000 })).tokens!.remaining, 500);
    a.reservation.settle(120);
    a.reservation.settle(0); // ignored
    await sleep(1);
    assert.equal((await l.peek('k', { tpm: 1000 })).tokens!.remaining, 880);
    const b = await l.admit('k', { tpm: 1000 }, 100);
    assert.ok(b.ok);
    b.reservation.settle(300); // used more than reserved: charged
    await sleep(1);
    assert.equal((await l.peek('k', { tpm: 1000 })).tokens!.remaining, 580);
    const c = await l.admit('k', { tpm: 1000 }, 100);
    assert.ok(c.ok);
    c.reservation.settle(undefined); // unknown: the reservation stays
    await sleep(1);
    assert.equal((await l.peek('k', { tpm: 1000 })).tokens!.remaining, 480);
  });

  test('a correction after the reservation\'s window ended gives nothing back to the new window', async () => {
    const l = new FlexibleLimiter({ windowMs: 100 });
    const a = await l.admit('w', { tpm: 1000 }, 800);
    assert.ok(a.ok);
    await sleep(150);
    a.reservation.settle(10);
    await sleep(1);
    assert.equal((await l.peek('w', { tpm: 1000 })).tokens!.remaining, 1000);
    const b = await l.admit('w', { tpm: 1000 }, 1000);
    assert.ok(b.ok, 'the new window is whole, not 1000 + 790');
    assert.equal(b.reservation.status.tokens!.remaining, 0);
  });

  test('maxConcurrent frees its slot on settle; subjects are independent', async () => {
    const l = new FlexibleLimiter();
    const one = await l.admit('c', { maxConcurrent: 1 }, 0);
    assert.ok(one.ok);
    const two = await l.admit('c', { maxConcurrent: 1 }, 0);
    assert.equal(!two.ok && two.reason, 'concurrency');
    assert.ok((await l.admit('other', { maxConcurrent: 1 }, 0)).ok);
    one.reservation.settle(0);
    assert.ok((await l.admit('c', { maxConcurrent: 1 }, 0)).ok);
  });
});

describe('token estimates and headers', () => {
  test('reservation = prompt estimate + max tokens (or the default)', () => {
    const req = { model: 'm', messages: [{ role: 'user', content: 'x'.repeat(400) }] };
    assert.equal(estimatePromptTokens(req), 104);
    assert.equal(reservationTokens(req, 1000), 1104);
    assert.equal(reservationTokens({ ...req, max_tokens: 50 }, 1000), 154);
    assert.equal(reservationTokens({ ...req, max_completion_tokens: 70, max_tokens: 50 }, 1000), 174);
  });

  test('OpenAI reset format and header set', () => {
    assert.equal(formatReset(250), '250ms');
    assert.equal(formatReset(1000), '1s');
    assert.equal(formatReset(12_500), '12.5s');
    assert.equal(formatReset(60_000), '1m0s');
    assert.equal(formatReset(90_500), '1m30.5s');
    assert.deepEqual(Object.keys(rateLimitHeaders({ requests: { limit: 1, remaining: 0, resetMs: 5 } })), ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests']);
  });
});
