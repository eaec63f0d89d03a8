import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { ClientKey } from '../../config/index.js';
import type { ModelInfo } from '../../providers/types.js';
import { keyAllowsModel } from '../auth.js';
import { modelNotFound } from '../errors.js';

/**
 * `GET /v1/models`: the configured gateway model names, in OpenAI's list shape. A key limited to
 * some models sees only those (each key's list is built once).
 */
export function registerModelRoutes(app: FastifyInstance, modelNames: readonly string[], auth: onRequestAsyncHookHandler | undefined): void {
  const created = Math.floor(Date.now() / 1000);
  const data: ModelInfo[] = modelNames.map((id) => ({ id, object: 'model', created, owned_by: 'adapterpool' }));
  const body = JSON.stringify({ object: 'list', data });
  const byKey = new WeakMap<ClientKey, string>();
  const listFor = (key: ClientKey | undefined): string => {
    if (key?.models === undefined) return body;
    let b = byKey.get(key);
    if (b === undefined) {
      b = JSON.stringify({ object: 'list', data: data.filter((m) => key.models!.has(m.id)) });
      byKey.set(key, b);
    }
    return b;
  };
  const byId = new Map(data.map((m) => [m.id, JSON.stringify(m)]));
  const onRequest = auth ? [auth] : [];

  app.get('/v1/models', { onRequest }, async (request, reply) => reply.type('application/json').send(listFor(request.clientKey)));
  app.get<{ Params: { model: string } }>('/v1/models/:model', { onRequest }, async (request, reply) => {
    const one = keyAllowsModel(request.clientKey, request.params.model) ? byId.get(request.params.model) : undefined;
    if (one === undefined) throw modelNotFound(request.params.model);
    return reply.type('application/json').send(one);
  });
}
