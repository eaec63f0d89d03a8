/**
 * A first-in first-out queue on a ring buffer: `push` and `shift` are O(1) at any length. Why not an
 * array: `Array.prototype.shift` moves the rest of the array when V8 cannot trim it in place, and a
 * key's waiters are taken from the front on every release while a thousand others wait.
 */
export class Fifo<T> {
  private buf: Array<T | undefined> = new Array<T | undefined>(16);
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    if (this.size === this.buf.length) this.grow();
    this.buf[(this.head + this.size) & (this.buf.length - 1)] = item;
    this.size++;
  }

  /** The oldest item, taken out; undefined when empty. */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.size--;
    return item;
  }

  /** The oldest item, left in; undefined when empty. */
  peek(): T | undefined {
    return this.size === 0 ? undefined : this.buf[this.head];
  }

  /** Takes `item` out wherever it is (O(n)); false if it is not queued. Order is kept. */
  remove(item: T): boolean {
    const mask = this.buf.length - 1;
    for (let i = 0; i < this.size; i++) {
      if (this.buf[(this.head + i) & mask] !== item) continue;
      for (let j = i; j < this.size - 1; j++) this.buf[(this.head + j) & mask] = this.buf[(this.head + j + 1) & mask];
      this.buf[(this.head + this.size - 1) & mask] = undefined;
      this.size--;
      return true;
    }
    return false;
  }

  /** Keeps the items `keep` says yes to (in order) and returns the others, in order. */
  partition(keep: (item: T) => boolean): T[] {
    const mask = this.buf.length - 1;
    const out: T[] = [];
    let kept = 0;
    for (let i = 0; i < this.size; i++) {
      const item = this.buf[(this.head + i) & mask] as T;
      if (keep(item)) this.buf[(this.head + kept++) & mask] = item;
      else out.push(item);
    }
    for (let i = kept; i < this.size; i++) this.buf[(this.head + i) & mask] = undefined;
    this.size = kept;
    return out;
  }

  /** Empties the queue; returns what it held, oldest first. */
  takeAll(): T[] {
    return this.partition(() => false);
  }

  private grow(): void {
    const old = this.buf;
    const mask = old.length - 1;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) & mask];
    this.buf = next;
    this.head = 0;
  }
}
