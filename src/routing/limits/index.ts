export type { Admission, LimitReason, LimitStatus, LimitWindow, Limiter, RateLimits, Reservation } from './types.js';
export { isLimited } from './types.js';
export { FlexibleLimiter, MemoryConcurrency, DEFAULT_WINDOW_MS, type ConcurrencyStore, type CounterOptions, type FlexibleLimiterOptions } from './flexible.js';
export { CHARS_PER_TOKEN, estimatePromptTokens, maxCompletionTokens, reservationTokens } from './tokens.js';
export { DeploymentLimiter, DeploymentCharge, type DeploymentDenied, type DeploymentLimiterOptions } from './deployments.js';
