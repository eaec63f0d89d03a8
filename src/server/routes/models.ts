import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ClientKey } from '../../config/index.js';
import { keyAllowsModel } from '../auth.js';
import { MAX_PARAM_LENGTH, urlTooLong } from '../edge.js';
import { modelNotFound } from '../errors.js';
import type { ConfigHolder, GatewaySnapshot } from '../live/snapshot.js';
import { ANTHROPIC_REQUEST_ID_HEADER, anthropicErrorHandler } from './messages.js';

/** Anthropic's SDK sends `anthropic-version` on every call: such a request gets Anthropic's shapes. */
const isAnthropic = (request: FastifyRequest): boolean => request.headers['anthropic-version'] !== undefined;

interface OpenAIModel {
  id: string;
  created: number;
}

/** An OpenAI model object as Anthropic's (`type`, `display_name`, `created_at`). */
function anthropicModel(m: OpenAIModel): Record<string, unknown> {
  return { type: 'model', id: m.id, display_name: m.id, created_at: new Date(m.created * 1000).toISOString() };
}

/** Anthropic's list: one page holding every model. */
function anthropicList(openAiList: string): string {
  const data = (JSON.parse(openAiList) as { data: OpenAIModel[] }).data.map(anthropicModel);
  return JSON.stringify({ data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
}

/**
 * `GET /v1/models`: the running config's gateway model names, in OpenAI's list shape (serialized
 * once per config). A key limited to some models sees only those (each key's list is built once).
 * A request from Anthropic's SDK (`anthropic-version`) may send its key as `x-api-key` and gets
 * Anthropic's list and model shapes and errors.
 */
export function registerModelRoutes(app: FastifyInstance, live: ConfigHolder): void {
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
  // The running config's key check: Anthropic's (x-api-key or Bearer, with `request-id`) or OpenAI's (Bearer).
  const keyCheck = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void => {
    const anthropic = isAnthropic(request);
    if (anthropic) reply.header(ANTHROPIC_REQUEST_ID_HEADER, request.id);
    const s = live.current;
    try {
      (anthropic ? s.anthropicAuth : s.apiAuth)?.(request);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  };
  // Errors of an Anthropic request in its shape; others go on to the gateway's handler.
  const errorHandler = (err: Error, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (!isAnthropic(request)) throw err;
    return anthropicErrorHandler(err, request, reply);
  };
  const opts = { onRequest: keyCheck, errorHandler };
  app.get('/v1/models', opts, async (request, reply) => {
    const list = listFor(live.current, request.clientKey);
    return reply.type('application/json').send(isAnthropic(request) ? anthropicList(list) : list);
  });
  const retrieve = (request: FastifyRequest, model: string): string => {
    const one = keyAllowsModel(request.clientKey, model) ? live.current.modelList.byId.get(model) : undefined;
    if (one === undefined) throw modelNotFound(model);
    return isAnthropic(request) ? JSON.stringify(anthropicModel(JSON.parse(one) as OpenAIModel)) : one;
  };
  app.get<{ Params: { model: string } }>('/v1/models/:model', opts, async (request, reply) => reply.type('application/json').send(retrieve(request, request.params.model)));
  // Model names with a slash (`deepseek-ai/DeepSeek-V3`), as curl sends them: unencoded (the SDKs send
  // %2F). The router falls back here from `:model` for an overlong one too: the same 414 as there.
  app.get<{ Params: { '*': string } }>('/v1/models/*', opts, async (request, reply) => {
    const model = request.params['*'];
    if (model.length > MAX_PARAM_LENGTH) throw urlTooLong();
    return reply.type('application/json').send(retrieve(request, model));
  });
}
