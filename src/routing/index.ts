export * from './types.js';
export { Router, NoDeploymentAvailableError, type RouterOptions } from './router.js';
export type { RouterPool, PoolKeyState } from './pool-port.js';
