export type { UsageRow, UsageStore, UsageQuery, UsageGroup, UsageGroupBy } from './types.js';
export { GROUP_BY, costOf } from './types.js';
export { SqliteUsageStore, type SqliteUsageStoreOptions } from './sqlite.js';
export { PostgresUsageStore, type PostgresUsageStoreOptions } from './postgres.js';
export { UsageLedger, type UsageLedgerOptions, type LedgerLogger } from './ledger.js';
export { createUsageStore } from './create.js';
export { ledgerRowId } from './row-id.js';
