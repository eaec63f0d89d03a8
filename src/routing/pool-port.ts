import type { KeyState } from '../pool/types.js';
import type { AcquireOptions } from '../pool/types.js';
import type { ChatAdapter } from '../providers/types.js';

/** What the router reads of one pool key (`AdapterPool.keyState`). */
export type PoolKeyState = KeyState;

/**
 * The slice of `AdapterPool<ChatAdapter>` the router uses. Structural, so the router depends on
 * the pool's API and not its implementation (and tests can pass a fake).
 */
export interface RouterPool<A extends ChatAdapter = ChatAdapter> {
  getAdapter(model: string, provider: string, options?: AcquireOptions): Promise<A>;
  /** `{ healthy: false }`: the holder saw it fail in a way that says it is broken (auth, quota): stop lending it. */
  releaseAdapter(adapter: A, model: string, provider: string, options?: { healthy?: boolean }): Promise<void>;
  keyState(model: string, provider: string): PoolKeyState | undefined;
  on(event: 'unhealthy' | 'recovered', fn: (e: { key: string; adapter: A }) => void): unknown;
  /** A health-check run finished: per key, how many adapters it found healthy. */
  on(event: 'healthCheck', fn: (e: { result: { pools: Record<string, { healthy: number }> } }) => void): unknown;
  off?(event: 'unhealthy' | 'recovered', fn: (e: { key: string; adapter: A }) => void): unknown;
  off?(event: 'healthCheck', fn: (e: { result: { pools: Record<string, { healthy: number }> } }) => void): unknown;
}
