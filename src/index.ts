export * from './pool/index.js';
export * from './providers/types.js';
export * from './providers/errors.js';
export * from './routing/types.js';
