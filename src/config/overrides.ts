import type { GatewayConfig, LOG_FORMATS } from './schema.js';

/**
 * Settings given on the command line (`serve --port`, `--log-format`, `--watch`). They win over the file's at start
 * and at every reload, so the running config (`GET /v1/admin/config`) shows what the gateway runs with,
 * and a reload does not report them as changes that need a restart.
 */
export interface ConfigOverrides {
  port?: number;
  logFormat?: (typeof LOG_FORMATS)[number];
  /** `--watch`: server.watchConfig on, whatever the file says. */
  watch?: true;
}

export function applyOverrides(config: GatewayConfig, o: ConfigOverrides | undefined): GatewayConfig {
  if (o === undefined || (o.port === undefined && o.logFormat === undefined && o.watch === undefined)) return config;
  let server = config.server;
  if (o.port !== undefined) server = { ...server, port: o.port };
  if (o.watch === true) server = { ...server, watchConfig: true };
  return {
    ...config,
    server,
    logging: o.logFormat === undefined ? config.logging : { ...config.logging, format: o.logFormat },
  };
}
