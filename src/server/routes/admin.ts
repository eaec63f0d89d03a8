import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import { maskConfig } from '../../config/index.js';
import { compactChanges } from '../../config/diff.js';
import type { ConfigReloader } from '../live/reloader.js';
import type { ConfigHolder } from '../live/snapshot.js';
import type { PoolEnvelope } from '../types.js';

/** The config endpoints' envelope messages (`message` of `{success, data, message}`), kept verbatim: clients match on them. */
export const CONFIG_MESSAGES = {
  reloaded: '配置重新加载成功',
  reloadFailed: '配置重新加载失败',
  config: '获取配置成功',
} as const;

export interface AdminRouteOptions {
  live: ConfigHolder;
  reloader: ConfigReloader;
  /** The admin rule (same as the POST pool endpoints). */
  adminAuth: onRequestAsyncHookHandler;
}

export interface ReloadData {
  version: number;
  /** What changed, empty lists left out; `{}` when nothing did. */
  changed: Record<string, unknown>;
}

export interface ConfigData {
  version: number;
  /** ISO 8601. */
  loaded_at: string;
  file: string | null;
  /** The running config, secrets masked. */
  config: unknown;
}

/** `POST /v1/admin/reload`: read the config file again and apply it. `GET /v1/admin/config`: the running config, masked. */
export function registerAdminRoutes(app: FastifyInstance, opts: AdminRouteOptions): void {
  const onRequest = [opts.adminAuth];
  void app.register(async (scope) => {
    // The reload takes no body; curl and many clients still send `content-type: application/json` with none.
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, _body, done) => done(null, undefined));
    scope.post('/v1/admin/reload', { onRequest }, async (_request, reply): Promise<PoolEnvelope<ReloadData>> => {
    const r = await opts.reloader.reload('endpoint');
    if (!r.ok) {
      reply.code(400);
      return { success: false, data: null, message: `${CONFIG_MESSAGES.reloadFailed}: ${r.reason}` };
    }
    return { success: true, data: { version: r.version, changed: compactChanges(r.changed) }, message: CONFIG_MESSAGES.reloaded };
    });
  });

  app.get('/v1/admin/config', { onRequest }, async (): Promise<PoolEnvelope<ConfigData>> => {
    const s = opts.live.current;
    return {
      success: true,
      data: { version: s.version, loaded_at: new Date(s.loadedAt).toISOString(), file: opts.reloader.file ?? null, config: maskConfig(s.config) },
      message: CONFIG_MESSAGES.config,
    };
  });
}
