import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { ClientKey } from '../../config/index.js';
import { keyAllowsModel } from '../auth.js';
import { MAX_PARAM_LENGTH, urlTooLong } from '../edge.js';
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
  const retrieve = (model: string, key: ClientKey | undefined): string => {
    const one = keyAllowsModel(key, model) ? live.current.modelList.byId.get(model) : undefined;
    if (one === undefined) throw modelNotFound(model);
    return one;
  };
  app.get<{ Params: { model: string } }>('/v1/models/:model', { onRequest }, async (request, reply) => reply.type('application/json').send(retrieve(request.params.model, request.clientKey)));
  // Model names with a slash (`deepseek-ai/DeepSeek-V3`), as curl sends them: unencoded (the SDKs send
  // %2F). The router falls back here from `:model` for an overlong one too: the same 414 as there.
  app.get<{ Params: { '*': string } }>('/v1/models/*', { onRequest }, async (request, reply) => {
    const model = request.params['*'];
    if (model.length > MAX_PARAM_LENGTH) throw urlTooLong();
    return reply.type('application/json').send(retrieve(model, request.clientKey));
  });
}
