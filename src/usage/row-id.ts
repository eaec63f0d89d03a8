import { randomFillSync } from 'node:crypto';

/**
 * A ledger row id: a UUID version 7 (RFC 9562), the creation time in ms first, then random bits.
 * Why not a random UUID: the id is the table's primary key, and random keys land anywhere in its
 * B-tree, so every insert touches a cold page as the table grows (measured with SQLite: ~12 µs of
 * CPU and 35-80 µs of wall time per row at 300k rows, against ~4 µs with time-ordered ids).
 *
 * Written as ASCII into one scratch buffer and read back as one flat string: a template of
 * `toString(16)`, slices and `randomUUID()` took ~0.8 µs and five intermediate strings per row;
 * this takes ~0.2 µs. The random bits come from a pooled `randomFillSync`, as `randomUUID()`'s do.
 */
export function ledgerRowId(now = Date.now()): string {
  if (at + RANDOM_BYTES > POOL.length) {
    randomFillSync(POOL);
    at = 0;
  }
  const r = at;
  at += RANDOM_BYTES;
  const o = OUT;
  // 48-bit timestamp as 12 hex digits (two 24-bit halves: bit operators are 32-bit).
  let hi = Math.floor(now / 0x1000000);
  let lo = now % 0x1000000;
  for (let k = 5; k >= 0; k--, hi >>>= 4) o[k] = HEX[hi & 15]!;
  for (let k = 12; k >= 9; k--, lo >>>= 4) o[k] = HEX[lo & 15]!;
  for (let k = 7; k >= 6; k--, lo >>>= 4) o[k] = HEX[lo & 15]!;
  o[8] = DASH;
  o[13] = DASH;
  o[14] = SEVEN; // version 7
  const b = POOL;
  o[15] = HEX[b[r]! >> 4]!;
  o[16] = HEX[b[r]! & 15]!;
  o[17] = HEX[b[r + 1]! & 15]!;
  o[18] = DASH;
  const variant = 0x80 | (b[r + 2]! & 0x3f); // RFC 9562 variant: 10xx
  o[19] = HEX[variant >> 4]!;
  o[20] = HEX[variant & 15]!;
  o[21] = HEX[b[r + 3]! >> 4]!;
  o[22] = HEX[b[r + 3]! & 15]!;
  o[23] = DASH;
  for (let k = 0; k < 6; k++) {
    const x = b[r + 4 + k]!;
    o[24 + 2 * k] = HEX[x >> 4]!;
    o[25 + 2 * k] = HEX[x & 15]!;
  }
  return o.toString('latin1', 0, 36);
}

const HEX = Buffer.from('0123456789abcdef');
const DASH = 0x2d;
const SEVEN = 0x37;
/** rand_a (12 bits) and rand_b (62 bits), taken from 10 bytes. */
const RANDOM_BYTES = 10;
const POOL = Buffer.allocUnsafe(4096);
let at = POOL.length;
const OUT = Buffer.allocUnsafe(36);
