import type { Metric, Registry } from 'prom-client';

/**
 * Counter and histogram families for the request path. A child is a plain object created once per
 * label set: `inc()` adds to a number and `observe()` bumps one bucket, with no label hashing or
 * validation per call (prom-client's own children hash and validate their labels on every call).
 * The families render through the prom-client `Registry` like any metric, in the same text format.
 */

type Labels = Record<string, string>;

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

export class CounterCell {
  value = 0;
  constructor(readonly labels: Readonly<Labels>) {}
  inc(n = 1): void {
    this.value += n;
  }
}

export class HistogramCell {
  sum = 0;
  count = 0;
  /** counts[i]: observations <= bounds[i] and > bounds[i-1]; the last slot is +Inf. */
  readonly counts: Float64Array;
  constructor(
    readonly labels: Readonly<Labels>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

abstract class Family<Cell extends { labels: Readonly<Labels> }> {
  protected readonly cells: Cell[] = [];
  private readonly byKey = new Map<string, Cell>();
  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    registry.registerMetric(this as unknown as Metric);
  }

  /** The child of these label values, created on first call (call it at setup, not per request). */
  child(...values: string[]): Cell {
    if (values.length !== this.labelNames.length) throw new TypeError(`${this.name}: expected ${this.labelNames.length} label values, got ${values.length}`);
    const key = values.join('\u0000');
    let cell = this.byKey.get(key);
    if (cell === undefined) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]!));
      cell = this.make(labels);
      this.byKey.set(key, cell);
      this.cells.push(cell);
    }
    return cell;
  }

  protected abstract make(labels: Labels): Cell;
  abstract get(): Promise<MetricData>;
  /** `registry.resetMetrics()`: zero every child (they stay cached by their holders). */
  abstract reset(): void;
}

export class CounterFamily extends Family<CounterCell> {
  readonly type = 'counter';
  protected make(labels: Labels): CounterCell {
    return new CounterCell(labels);
  }
  async get(): Promise<MetricData> {
    return { name: this.name, help: this.help, type: 'counter', aggregator: 'sum', values: this.cells.map((c) => ({ labels: c.labels, value: c.value })) };
  }
  reset(): void {
    for (const c of this.cells) c.value = 0;
  }
}

export class HistogramFamily extends Family<HistogramCell> {
  readonly type = 'histogram';
  private readonly bounds: readonly number[];
  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(registry, name, help, labelNames);
    this.bounds = [...buckets].sort((a, b) => a - b);
  }
  protected make(labels: Labels): HistogramCell {
    return new HistogramCell(labels, this.bounds);
  }
  async get(): Promise<MetricData> {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const c of this.cells) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += c.counts[i]!;
        values.push({ labels: { le, ...c.labels }, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', ...c.labels }, value: c.count, metricName: bucket });
      values.push({ labels: c.labels, value: c.sum, metricName: `${this.name}_sum` });
      values.push({ labels: c.labels, value: c.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }
  reset(): void {
    for (const c of this.cells) {
      c.counts.fill(0);
      c.sum = 0;
      c.count = 0;
    }
  }
}
