import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import { modelNotFound } from '../errors.js';
import type { ConfigHolder } from '../live/snapshot.js';

/** `GET /v1/models`: the running config's gateway model names, in OpenAI's list shape (serialized once per config). */
export function registerModelRoutes(app: FastifyInstance, live: ConfigHolder, auth: onRequestAsyncHookHandler | undefined): void {
  const onRequest = auth ? [auth] : [];
  app.get('/v1/models', { onRequest }, async (_request, reply) => reply.type('application/json').send(live.current.modelList.body));
  app.get<{ Params: { model: string } }>('/v1/models/:model', { onRequest }, async (request, reply) => {
    const one = live.current.modelList.byId.get(request.params.model);
    if (one === undefined) throw modelNotFound(request.params.model);
    return reply.type('application/json').send(one);
  });
}
