export { AdapterPool } from './AdapterPool.js';
export { poolKey } from './key.js';
export { DEFAULT_POOL_LIMITS } from './options.js';
export * from './errors.js';
export type * from './types.js';
