import { Counter, Gauge, type Registry } from 'prom-client';
import type { ClientKey } from '../config/index.js';
import type { LimitReason } from '../routing/index.js';
import type { UsageLedger } from '../usage/index.js';
import { METRIC_PREFIX } from './metrics.js';

/**
 * Metrics of key / deployment limits and of the usage ledger, in the gateway's registry. Label
 * values come from the config (key names, model and provider names) and fixed enums, so series
 * stay bounded.
 */
export class LimitMetrics {
  private readonly keyLimited: Counter<'key' | 'reason'>;
  private readonly deploymentLimited: Counter<'upstream_model' | 'provider'>;

  constructor(registry: Registry, keys: readonly ClientKey[], ledger: Pick<UsageLedger, 'dropped' | 'written' | 'pending'> | undefined) {
    const registers = [registry];
    this.keyLimited = new Counter({
      name: `${METRIC_PREFIX}key_rate_limited_total`,
      help: 'Requests refused with 429 because their client key was over a limit, by key name and limit (requests | tokens | concurrency).',
      labelNames: ['key', 'reason'],
      registers,
    });
    this.deploymentLimited = new Counter({
      name: `${METRIC_PREFIX}deployment_rate_limited_total`,
      help: 'Times a deployment was skipped because it was at its rpm / tpm limit.',
      labelNames: ['upstream_model', 'provider'],
      registers,
    });
    for (const k of keys) {
      if (k.name === undefined || (k.rpm === undefined && k.tpm === undefined && k.maxConcurrent === undefined)) continue;
      for (const reason of ['requests', 'tokens', 'concurrency'] as const) this.keyLimited.labels(k.name, reason).inc(0);
    }
    if (ledger !== undefined) {
      new Counter({
        name: `${METRIC_PREFIX}usage_dropped_total`,
        help: 'Usage ledger rows dropped: the buffer was full while the store was down or slow, or rows were unwritten at shutdown.',
        registers,
        collect() {
          this.reset();
          this.inc(ledger.dropped);
        },
      });
      new Counter({
        name: `${METRIC_PREFIX}usage_written_total`,
        help: 'Usage ledger rows written to the store.',
        registers,
        collect() {
          this.reset();
          this.inc(ledger.written);
        },
      });
      new Gauge({
        name: `${METRIC_PREFIX}usage_pending`,
        help: 'Usage ledger rows buffered, waiting to be written.',
        registers,
        collect() {
          this.set(ledger.pending);
        },
      });
    }
  }

  keyRateLimited(key: ClientKey, reason: LimitReason): void {
    this.keyLimited.labels(key.name ?? '', reason).inc();
  }

  deploymentRateLimited(model: string, provider: string): void {
    this.deploymentLimited.labels(model, provider).inc();
  }
}
