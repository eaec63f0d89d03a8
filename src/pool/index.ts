export { AdapterPool, DEFAULT_POOL_LIMITS, poolKey } from './AdapterPool.js';
export type { KeyState, Lease, ReleaseOptions } from './AdapterPool.js';
export * from './errors.js';
export type * from './types.js';
