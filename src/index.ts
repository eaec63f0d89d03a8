export * from './pool/index.js';
export * from './providers/index.js';
export * from './routing/index.js';
export * from './config/index.js';
export * from './server/index.js';
