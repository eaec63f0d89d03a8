import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Fifo } from '../../src/pool/fifo.js';

/** Everything queued, oldest first, without changing the queue. */
function contents<T>(q: Fifo<T>): T[] {
  const all = q.takeAll();
  for (const x of all) q.push(x);
  return all;
}

describe('Fifo (the waiter queue)', () => {
  test('first in, first out, across growth and wrap-around', () => {
    const q = new Fifo<number>();
    const model: number[] = [];
    let next = 0;
    // Interleave pushes and shifts so the head walks around the ring while it grows past 16.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7; i++) {
        q.push(next);
        model.push(next++);
      }
      for (let i = 0; i < 5; i++) assert.equal(q.shift(), model.shift());
      assert.equal(q.length, model.length);
      assert.equal(q.peek(), model[0]);
    }
    assert.deepEqual(contents(q), model);
    while (model.length > 0) assert.equal(q.shift(), model.shift());
    assert.equal(q.shift(), undefined);
    assert.equal(q.peek(), undefined);
    assert.equal(q.length, 0);
  });

  test('remove() takes an item out from anywhere and keeps the order; false for one not queued', () => {
    const q = new Fifo<string>();
    for (let i = 0; i < 12; i++) q.shift(); // an empty queue stays empty
    for (const s of ['a', 'b', 'c', 'd', 'e']) q.push(s);
    q.shift();
    q.push('f');
    assert.equal(q.remove('d'), true);
    assert.equal(q.remove('d'), false);
    assert.equal(q.remove('zz'), false);
    assert.equal(q.remove('b'), true);
    assert.equal(q.remove('f'), true);
    assert.deepEqual(contents(q), ['c', 'e']);
    assert.equal(q.length, 2);
  });

  test('partition() keeps what it is told to, in order, and returns the rest in order', () => {
    const q = new Fifo<number>();
    for (let i = 0; i < 40; i++) q.push(i);
    for (let i = 0; i < 10; i++) q.shift(); // 10..39, head mid-ring
    const odd = q.partition((n) => n % 2 === 0);
    assert.deepEqual(odd, [11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35, 37, 39]);
    assert.deepEqual(contents(q), [10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38]);
    q.push(99);
    assert.deepEqual(q.takeAll(), [10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 99]);
    assert.equal(q.length, 0);
  });
});
