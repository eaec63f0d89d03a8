export { Cluster, type ClusterConfig, type ClusterOptions, type ClusterMode } from './cluster.js';
export { RedisLink, type RedisLinkOptions, type RedisLinkState } from './redis-link.js';
export { SharedCircuits, type CircuitRouter } from './circuits.js';
export { Fleet, sumStats, sumStatus, type ReplicaSnapshot, type ReplicaView } from './fleet.js';
export { SharedLimiter, type SharedLimiterOptions } from './shared-limiter.js';
