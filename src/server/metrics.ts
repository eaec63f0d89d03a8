/**
 * The gateway's metrics: Prometheus families with plain-cell children (`metrics/families.ts`),
 * the gateway's metrics fed by the pool, the router and the chat route (`metrics/gateway-metrics.ts`),
 * the in-memory history the dashboard charts (`metrics/history.ts`) and the dashboard's data
 * (`metrics/dashboard-data.ts`).
 */
export { CounterCell, CounterFamily, HistogramCell, HistogramFamily } from './metrics/families.js';
export {
  ANONYMOUS_KEY_LABEL,
  DEFAULT_HISTORY_STEP_MS,
  DEFAULT_HISTORY_WINDOW_MS,
  GatewayMetrics,
  METRIC_PREFIX,
  NO_DEPLOYMENT_LABEL,
  UNKNOWN_MODEL_LABEL,
  errorClassOf,
  tokenCounts,
  type GatewayMetricsOptions,
  type MetricsPool,
  type MetricsRouter,
  type RequestCounts,
  type RequestOutcome,
} from './metrics/gateway-metrics.js';
export { ERROR_CLASSES, History, STATUS_LANES, Series, errorClassIndex, isFailureStatus, type ErrorClassLabel, type SeriesView, type WindowTotals } from './metrics/history.js';
export {
  adapterAggregate,
  deploymentsData,
  historyData,
  type AdapterAggregate,
  type DeploymentRow,
  type DeploymentsData,
  type HistoryData,
  type ModelRow,
} from './metrics/dashboard-data.js';
