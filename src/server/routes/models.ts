import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { ClientKey } from '../../config/index.js';
import { keyAllowsModel } from '../auth.js';
import { modelNotFound } from '../errors.js';
import type { ConfigHolder, GatewaySnapshot } from '../live/snapshot.js';

/**
 * `GET /v1/models`: the running config's gateway model names, in OpenAI's list shape (serialized
 * once per config). A key limited to some models sees only those (each key's list is built once).
 */
export function registerModelRoutes(app: FastifyInstance, live: ConfigHolder, auth: onRequestAsyncHookHandler | undefined): void {
  // Keyed by the key object: a reload makes new ones, so a list never outlives its config.
  const byKey = new WeakMap<ClientKey, string>();
  const listFor = (s: GatewaySnapshot, key: ClientKey | undefined): string => {
    if (key?.models === undefined) return s.modelList.body;
    let b = byKey.get(key);
    if (b === undefined) {
      const data = [...s.modelList.byId.entries()].filter(([id]) => key.models!.has(id)).map(([, one]) => JSON.parse(one) as unknown);
      b = JSON.stringify({ object: 'list', data });
      byKey.set(key, b);
    }
    return b;
  };
  const onRequest = auth ? [auth] : [];
  app.get('/v1/models', { onRequest }, async (request, reply) => reply.type('application/json').send(listFor(live.current, request.clientKey)));
  app.get<{ Params: { model: string } }>('/v1/models/:model', { onRequest }, async (request, reply) => {
    const one = keyAllowsModel(request.clientKey, request.params.model) ? live.current.modelList.byId.get(request.params.model) : undefined;
    if (one === undefined) throw modelNotFound(request.params.model);
    return reply.type('application/json').send(one);
  });
}
