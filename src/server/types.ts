import type { AdapterDetail, CleanupResult, HealthCheckResult, PoolStats, PoolStatus } from '../pool/types.js';
import type { ChatAdapter } from '../providers/types.js';
import type { RouterPool } from '../routing/index.js';

/** The slice of `AdapterPool<ChatAdapter>` the server uses (structural, so tests may pass a fake). */
export interface GatewayPool extends RouterPool<ChatAdapter> {
  start(): Promise<void>;
  close(): Promise<void>;
  stats(options?: { detail?: boolean }): PoolStats;
  status(): PoolStatus;
  details(model: string, provider: string): ReadonlyArray<AdapterDetail & { adapter: ChatAdapter }>;
  cleanup(): Promise<CleanupResult>;
  healthCheck(): Promise<HealthCheckResult>;
}

/** One adapter in `GET /v1/pool/stats?detail=true`. */
export interface AdapterDetailRow extends AdapterDetail {
  mean_latency_ms: number;
  success_rate: number;
  requests: number;
  in_flight: number;
}

/**
 * The original design's envelope `{success, data, message}`: every `/v1/pool/*` answer comes in it,
 * and so do the admin and usage endpoints' own answers.
 */
export interface PoolEnvelope<T> {
  success: boolean;
  data: T | null;
  message: string;
}

/** Readiness, flipped by the gateway's lifecycle. */
export interface Lifecycle {
  state: 'starting' | 'ready' | 'closing';
}
