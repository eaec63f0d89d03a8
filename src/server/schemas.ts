/**
 * JSON schema of the chat request, compiled once by fastify (ajv, no coercion, no removal).
 * Only what the gateway reads is checked; every other field passes through to the upstream untouched.
 */
export const chatCompletionBodySchema = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    model: { type: 'string', minLength: 1 },
    messages: {
      type: 'array',
      minItems: 1,
      items: { type: 'object', required: ['role'], properties: { role: { type: 'string', minLength: 1 } } },
    },
    stream: { type: ['boolean', 'null'] },
    stream_options: {
      type: ['object', 'null'],
      properties: { include_usage: { type: ['boolean', 'null'] } },
    },
  },
} as const;

/** `?detail=true` on the pool stats. */
export const poolStatsQuerySchema = {
  type: 'object',
  properties: { detail: { type: 'string', enum: ['true', 'false', '1', '0'] }, scope: { type: 'string', enum: ['local', 'cluster'] } },
} as const;

export const poolScopeQuerySchema = {
  type: 'object',
  properties: { scope: { type: 'string', enum: ['local', 'cluster'] } },
} as const;
