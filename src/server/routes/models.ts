import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { ModelInfo } from '../../providers/types.js';
import { modelNotFound } from '../errors.js';

/** `GET /v1/models`: the configured gateway model names, in OpenAI's list shape (built once). */
export function registerModelRoutes(app: FastifyInstance, modelNames: readonly string[], auth: onRequestAsyncHookHandler | undefined): void {
  const created = Math.floor(Date.now() / 1000);
  const data: ModelInfo[] = modelNames.map((id) => ({ id, object: 'model', created, owned_by: 'adapterpool' }));
  const body = JSON.stringify({ object: 'list', data });
  const byId = new Map(data.map((m) => [m.id, JSON.stringify(m)]));
  const onRequest = auth ? [auth] : [];

  app.get('/v1/models', { onRequest }, async (_request, reply) => reply.type('application/json').send(body));
  app.get<{ Params: { model: string } }>('/v1/models/:model', { onRequest }, async (request, reply) => {
    const one = byId.get(request.params.model);
    if (one === undefined) throw modelNotFound(request.params.model);
    return reply.type('application/json').send(one);
  });
}
