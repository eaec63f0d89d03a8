import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ClientKey } from '../../config/index.js';
import { keyAllowsModel } from '../auth.js';
import { MAX_PARAM_LENGTH, urlTooLong } from '../edge.js';
import { GatewayHttpError, modelNotFound } from '../errors.js';
import type { ConfigHolder, GatewaySnapshot } from '../live/snapshot.js';
import { ANTHROPIC_REQUEST_ID_HEADER } from '../anthropic/errors.js';
import { anthropicErrorHandler } from './messages.js';

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

/** Anthropic's page size when the client names none, and the largest it may name. */
const ANTHROPIC_PAGE_DEFAULT = 20;
const ANTHROPIC_PAGE_MAX = 1000;

interface AnthropicPageQuery {
  limit?: string;
  after_id?: string;
  before_id?: string;
}

/**
 * Anthropic's list, one page of it: `limit` (1..1000, default 20) models after `after_id`, or
 * before `before_id`, as its API pages (the SDK's `for await` follows `has_more` and `last_id`).
 * A cursor the list does not hold gives an empty page.
 */
function anthropicList(openAiList: string, q: AnthropicPageQuery): string {
  const all = (JSON.parse(openAiList) as { data: OpenAIModel[] }).data.map(anthropicModel);
  const limit = q.limit === undefined ? ANTHROPIC_PAGE_DEFAULT : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > ANTHROPIC_PAGE_MAX) {
    throw new GatewayHttpError(400, `limit: must be an integer from 1 to ${ANTHROPIC_PAGE_MAX}`, 'invalid_request_error', 'invalid_value', 'limit');
  }
  const after = q.after_id === undefined ? -1 : all.findIndex((m) => m.id === q.after_id);
  const before = q.before_id === undefined ? all.length : all.findIndex((m) => m.id === q.before_id);
  const start = q.after_id !== undefined && after < 0 ? all.length : after + 1;
  const end = Math.max(start, before < 0 ? start : before);
  // Before a cursor (and not after one): the page nearest to it.
  const backward = q.before_id !== undefined && q.after_id === undefined;
  const from = backward ? Math.max(start, end - limit) : start;
  const to = backward ? end : Math.min(end, start + limit);
  const data = all.slice(from, to);
  const has_more = backward ? from > start : to < end;
  return JSON.stringify({ data, has_more, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null });
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
  app.get<{ Querystring: AnthropicPageQuery }>('/v1/models', opts, async (request, reply) => {
    const list = listFor(live.current, request.clientKey);
    return reply.type('application/json').send(isAnthropic(request) ? anthropicList(list, request.query) : list);
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
