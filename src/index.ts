export * from './pool/index.js';
export * from './providers/index.js';
export * from './routing/index.js';
