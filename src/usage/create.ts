import type { UsageConfig } from '../config/index.js';
import { PostgresUsageStore } from './postgres.js';
import { SqliteUsageStore } from './sqlite.js';
import type { UsageStore } from './types.js';

/** The store the config names: PostgreSQL when `usage.postgres` is set, else the SQLite file. */
export function createUsageStore(config: UsageConfig): UsageStore {
  const opts = { timeoutMs: config.queryTimeout };
  return config.postgres !== undefined ? new PostgresUsageStore(config.postgres, config.table, opts) : new SqliteUsageStore(config.path, config.table, opts);
}
