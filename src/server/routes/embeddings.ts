import type { FastifyInstance } from 'fastify';
import type { ModelRoute } from '../../config/index.js';
import { decodeEmbedding, embeddingInputs, encodeEmbedding } from '../../providers/embeddings.js';
import { ProviderError } from '../../providers/errors.js';
import type { CallOptions, ChatAdapter, EmbeddingsRequest, EmbeddingsResponse } from '../../providers/types.js';
import { CHARS_PER_TOKEN, TokenEstimate, type Estimate } from '../../routing/index.js';
import type { Deployment, ExecuteOptions } from '../../routing/types.js';
import { enterHook } from '../live/hooks.js';
import type { ConfigHolder } from '../live/snapshot.js';
import type { KeyLimits } from '../rate-limits.js';
import { RequestLifecycle, type RequestTelemetry, type RequestUsage } from '../request-lifecycle.js';
import { embeddingsBodySchema } from '../schemas.js';
import { ATTEMPTS_HEADER, DEPLOYMENT_HEADER } from '../error-reply.js';

/** Runs one call on an adapter of one of the route's deployments, with the route's strategy, retries and failover. */
export type RouteCall = <T>(
  route: ModelRoute,
  call: (adapter: ChatAdapter, options: CallOptions) => Promise<T>,
  options: ExecuteOptions,
  estimate?: Estimate,
) => Promise<{ value: T; deployment: Deployment; attempts: number }>;

export interface EmbeddingsRouteOptions {
  call: RouteCall;
  /** The running config (routes, client keys), captured once per request. */
  live: ConfigHolder;
  telemetry?: RequestTelemetry;
  keyLimits?: KeyLimits;
  usage?: RequestUsage;
}

/** `POST /v1/embeddings`: OpenAI's Embeddings API, routed like a chat completion. */
export function registerEmbeddingsRoutes(app: FastifyInstance, opts: EmbeddingsRouteOptions): void {
  app.post<{ Body: EmbeddingsRequest }>(
    '/v1/embeddings',
    { schema: { body: embeddingsBodySchema }, onRequest: [enterHook(opts.live, 'apiAuth')] },
    async (request, reply) => {
      const body = withoutNulls(request.body);
      // The config this request arrived on (captured by the enter hook): it finishes on it.
      const routes = request.liveConfig!.routes;
      const life = new RequestLifecycle(opts, request, { what: 'embeddings', model: body.model, stream: false, prompt: { field: 'input', value: body.input } });
      const route = life.resolve(routes, 'embeddings', 'POST /v1/embeddings');
      // One estimate for the key's and the deployments' token limits, corrected from usage at the end.
      const estimate = new TokenEstimate(inputTokens(body.input));
      const limitHeaders = await life.admit(estimate);
      if (limitHeaders !== undefined) reply.headers(limitHeaders);

      // Abort the upstream call if the client hangs up before we answer.
      const hangup = life.hangup();
      let result: Awaited<ReturnType<RouteCall>> & { value: EmbeddingsResponse };
      try {
        result = await opts.call(route, (adapter, callOptions) => embed(adapter, body, callOptions), { signal: hangup.signal, requestId: request.id }, estimate);
      } catch (err) {
        return life.fail(err);
      }
      life.answering();
      const reported = result.value.usage ?? undefined;
      const answer = inEncoding(result.value, body.encoding_format ?? 'float', estimate.tokens);
      // The answer first, then the bookkeeping, as on the chat route.
      try {
        return reply.headers({ [DEPLOYMENT_HEADER]: result.deployment.key, [ATTEMPTS_HEADER]: String(result.attempts) }).send(answer);
      } finally {
        // No report from the upstream: unknown to the ledger, and the key's token reservation (the estimate) stays charged.
        const usage = reported === undefined ? undefined : { prompt_tokens: reported.prompt_tokens, completion_tokens: 0, total_tokens: reported.total_tokens };
        life.finish(result.deployment, 200, { attempts: result.attempts, usage, served: true });
      }
    },
  );
}

/** The optional fields a client sent as null, as if not sent: some upstreams refuse a null. */
const OPTIONAL_FIELDS = ['encoding_format', 'dimensions', 'user'] as const;

function withoutNulls(body: EmbeddingsRequest): EmbeddingsRequest {
  const raw = body as unknown as Record<string, unknown>;
  if (!OPTIONAL_FIELDS.some((f) => raw[f] === null)) return body;
  const out = { ...raw };
  for (const f of OPTIONAL_FIELDS) if (out[f] === null) delete out[f];
  return out as unknown as EmbeddingsRequest;
}

/** Tokens to reserve for an embeddings input: token ids as they are, text at `CHARS_PER_TOKEN`. */
export function inputTokens(input: EmbeddingsRequest['input']): number {
  let n = 0;
  for (const item of embeddingInputs(input)) n += typeof item === 'string' ? Math.ceil(item.length / CHARS_PER_TOKEN) : item.length;
  return Math.max(1, n);
}

async function embed(adapter: ChatAdapter, body: EmbeddingsRequest, options: CallOptions): Promise<EmbeddingsResponse> {
  if (adapter.embeddings === undefined) {
    // The config refuses such a deployment; should one slip through, it is that deployment's fault: fail over.
    throw new ProviderError({ provider: adapter.provider, status: 404, errorClass: 'not_found', message: `provider "${adapter.provider}" (type ${adapter.type}) has no embeddings endpoint` });
  }
  return adapter.embeddings(body, options);
}

/**
 * The answer in the encoding the client asked for, whatever the upstream sent (some ignore
 * `encoding_format`); usage is always there: an upstream that reported none gets the gateway's
 * estimate (`estimate` tokens), as OpenAI's clients expect the field.
 */
export function inEncoding(res: EmbeddingsResponse, encoding: 'float' | 'base64', estimate: number): EmbeddingsResponse {
  const data = res.data.map((d) => {
    if (encoding === 'base64' && Array.isArray(d.embedding)) return { ...d, embedding: encodeEmbedding(d.embedding) };
    if (encoding === 'float' && typeof d.embedding === 'string') return { ...d, embedding: decodeEmbedding(d.embedding) };
    return d;
  });
  const usage = res.usage ?? { prompt_tokens: estimate, total_tokens: estimate };
  return { ...res, object: 'list', data, usage };
}
