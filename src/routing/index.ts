export * from './types.js';
export { Router, type RouterOptions } from './router.js';
export { NoDeploymentAvailableError, routeTrace } from './errors.js';
export type { RouterPool, PoolKeyState } from './pool-port.js';
export { CircuitBreaker, Permit, type CircuitState, type CircuitBreakerOptions } from './circuit-breaker.js';
export { backoffDelay, retryDelay, type BackoffOptions, type JitterMode } from './backoff.js';
export { LeasedStream, STREAM_CANCELLED } from './leased-stream.js';
export { LightSignal } from './light-signal.js';
export { SlotList, type Slotted } from './slot-list.js';
export { RequestTimeoutError } from './request-budget.js';
export { DeploymentsAtLimitError, TokenEstimate, type DeploymentAdmission, type AdmissionDenied, type AdmissionVerdict, type Estimate } from './admission.js';
export {
  createStrategy,
  STRATEGY_NAMES,
  RoundRobinStrategy,
  WeightedStrategy,
  LeastConnectionsStrategy,
  LowestLatencyStrategy,
  FailoverStrategy,
  type Strategy,
  type DeploymentView,
  type RandomSource,
} from './strategies/index.js';
export {
  DeploymentLimiter,
  DeploymentCharge,
  type DeploymentDenied,
  FlexibleLimiter,
  MemoryConcurrency,
  DEFAULT_WINDOW_MS,
  isLimited,
  CHARS_PER_TOKEN,
  estimatePromptTokens,
  maxCompletionTokens,
  reservationTokens,
  type Admission,
  type LimitReason,
  type LimitStatus,
  type LimitWindow,
  type Limiter,
  type RateLimits,
  type Reservation,
  type ConcurrencyStore,
  type CounterOptions,
  type FlexibleLimiterOptions,
} from './limits/index.js';
