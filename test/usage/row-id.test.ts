import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ledgerRowId } from '../../src/usage/index.js';

test('ledger row ids are UUID v7: unique, and ordered by creation time (so primary-key inserts append)', () => {
  const v7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const ids = Array.from({ length: 1000 }, (_, i) => ledgerRowId(1_700_000_000_000 + i * 7));
  for (const id of ids) assert.match(id, v7);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids, 'string order is time order');
  assert.ok(ledgerRowId(Date.UTC(2030, 0, 1)).startsWith(Date.UTC(2030, 0, 1).toString(16).padStart(12, '0').slice(0, 8)));
  for (const t of [0, 1, 0xfff_fff, 0x1_000_000, 1_700_000_000_123, 0xffff_ffff_ffff]) {
    assert.equal(ledgerRowId(t).replace(/-/g, '').slice(0, 12), t.toString(16).padStart(12, '0'), `the whole 48-bit time of ${t}`);
  }
});
