import type { GatewayConfig, LOG_FORMATS } from './schema.js';

/**
 * Settings given on the command line (`serve --port`, `--log-format`). They win over the file's at start
 * and at every reload, so the running config (`GET /v1/admin/config`) shows what the gateway runs with,
 * and a reload does not report them as changes that need a restart.
 */
export interface ConfigOverrides {
  port?: number;
  logFormat?: (typeof LOG_FORMATS)[number];
}

export function applyOverrides(config: GatewayConfig, o: ConfigOverrides | undefined): GatewayConfig {
  if (o === undefined || (o.port === undefined && o.logFormat === undefined)) return config;
  return {
    ...config,
    server: o.port === undefined ? config.server : { ...config.server, port: o.port },
    logging: o.logFormat === undefined ? config.logging : { ...config.logging, format: o.logFormat },
  };
}
