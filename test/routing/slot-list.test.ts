import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SlotList } from '../../src/routing/slot-list.js';

interface Item {
  id: number;
  slot: number;
}
const item = (id: number): Item => ({ id, slot: -1 });
const ids = (l: SlotList<Item>): number[] => {
  const out: number[] = [];
  l.forEach((i) => out.push(i.id));
  return out.sort((a, b) => a - b);
};

describe('SlotList (things in flight: budgets, requests waiting for an answer, open streams)', () => {
  test('add and delete in any order; each item knows its slot; a second add or delete changes nothing', () => {
    const l = new SlotList<Item>();
    const items = Array.from({ length: 8 }, (_, i) => item(i));
    for (const i of items) l.add(i);
    l.add(items[3]!);
    assert.equal(l.size, 8);
    for (const k of [0, 7, 3, 5]) assert.equal(l.delete(items[k]!), true);
    assert.equal(l.delete(items[3]!), false);
    assert.equal(items[3]!.slot, -1);
    assert.deepEqual(ids(l), [1, 2, 4, 6]);
    l.forEach((i) => assert.equal(i.slot >= 0 && i.slot < l.size, true));
    const other = new SlotList<Item>();
    assert.equal(other.delete(items[1]!), false, 'an item of another list is not taken');
    assert.equal(l.size, 4);
  });

  test('forEach may take out the item it is given: every item is still visited once', () => {
    const l = new SlotList<Item>();
    const items = Array.from({ length: 10 }, (_, i) => item(i));
    for (const i of items) l.add(i);
    const seen: number[] = [];
    l.forEach((i) => {
      seen.push(i.id);
      if (i.id % 2 === 0) l.delete(i);
    });
    assert.deepEqual(seen.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(ids(l), [1, 3, 5, 7, 9]);
  });

  test('takeAll empties the list and frees the slots', () => {
    const l = new SlotList<Item>();
    const items = [item(1), item(2), item(3)];
    for (const i of items) l.add(i);
    assert.deepEqual(l.takeAll().map((i) => i.id).sort(), [1, 2, 3]);
    assert.equal(l.size, 0);
    assert.ok(items.every((i) => i.slot === -1));
    l.add(items[0]!);
    assert.deepEqual(ids(l), [1]);
  });
});
