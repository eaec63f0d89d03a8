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

/** `POST /v1/embeddings`: OpenAI's input forms (a string, strings, token ids, arrays of token ids). */
export const embeddingsBodySchema = {
  type: 'object',
  required: ['model', 'input'],
  properties: {
    model: { type: 'string', minLength: 1 },
    input: {
      // The message of a 400 when no form matches (see validationReply): a branch's own says only "must be string".
      description: 'must be a string, an array of strings, an array of token ids (integers >= 0) or an array of such arrays, none of them empty',
      anyOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
        { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0 } },
        { type: 'array', minItems: 1, items: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0 } } },
      ],
    },
    // null stands for "not given" (clients that serialize every optional field send it); the route
    // drops it before the upstream sees the body.
    encoding_format: { type: ['string', 'null'], enum: ['float', 'base64', null] },
    // No model has more; the bound keeps a typo from asking any upstream (or the mock) for a giant answer.
    dimensions: { type: ['integer', 'null'], minimum: 1, maximum: 65_536 },
    user: { type: ['string', 'null'] },
  },
} as const;

/** Content blocks: each an object with a type. */
const anthropicBlocks = { type: 'array', items: { type: 'object', required: ['type'], properties: { type: { type: 'string', minLength: 1 } } } } as const;

/** A block of `type` must have these fields with these types (Anthropic's own API refuses it otherwise). */
const blockFields = (type: string, required: readonly string[], properties: Record<string, unknown>) =>
  ({ if: { properties: { type: { const: type } }, required: ['type'] }, then: { required, properties } }) as const;

/**
 * An image's source: what each of Anthropic's source types needs (other types, e.g. `file`, go to an
 * `anthropic` deployment as they are; a translation refuses them by name).
 */
const imageSource = {
  type: 'object',
  required: ['type'],
  properties: { type: { type: 'string', minLength: 1 } },
  allOf: [
    { if: { properties: { type: { const: 'base64' } }, required: ['type'] }, then: { required: ['media_type', 'data'], properties: { media_type: { type: 'string', minLength: 1 }, data: { type: 'string', minLength: 1 } } } },
    { if: { properties: { type: { const: 'url' } }, required: ['type'] }, then: { required: ['url'], properties: { url: { type: 'string', minLength: 1 } } } },
  ],
} as const;

const anthropicContent = {
  description: 'must be a string or an array of content blocks (objects with a type)',
  anyOf: [
    { type: 'string' },
    // A block's own `content` (a tool_result's) is read by the translation and the token estimate too.
    {
      type: 'array',
      items: {
        type: 'object',
        required: ['type'],
        properties: { type: { type: 'string', minLength: 1 }, content: { anyOf: [{ type: 'string' }, { type: 'null' }, anthropicBlocks] } },
        allOf: [
          blockFields('text', ['text'], { text: { type: 'string' } }),
          blockFields('tool_use', ['id', 'name', 'input'], { id: { type: 'string' }, name: { type: 'string', minLength: 1 }, input: { type: 'object' } }),
          blockFields('tool_result', ['tool_use_id'], { tool_use_id: { type: 'string' } }),
          blockFields('image', ['source'], { source: imageSource }),
        ],
      },
    },
  ],
} as const;

const anthropicMessages = {
  type: 'array',
  minItems: 1,
  items: {
    type: 'object',
    required: ['role', 'content'],
    properties: { role: { type: 'string', enum: ['user', 'assistant'] }, content: anthropicContent },
  },
} as const;

const anthropicSystem = {
  description: 'must be a string or an array of text blocks',
  anyOf: [
    { type: 'string' },
    { type: 'array', items: { type: 'object', required: ['type', 'text'], properties: { type: { const: 'text' }, text: { type: 'string' } } } },
  ],
} as const;

const anthropicTools = { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 }, type: { type: 'string' } } } } as const;

/** `POST /v1/messages`: Anthropic's Messages request; fields not listed pass through to an `anthropic` upstream. */
export const messagesBodySchema = {
  type: 'object',
  required: ['model', 'max_tokens', 'messages'],
  properties: {
    model: { type: 'string', minLength: 1 },
    max_tokens: { type: 'integer', minimum: 1 },
    messages: anthropicMessages,
    system: anthropicSystem,
    stream: { type: 'boolean' },
    stop_sequences: { type: 'array', items: { type: 'string' } },
    temperature: { type: 'number', minimum: 0, maximum: 1 },
    top_p: { type: 'number', minimum: 0, maximum: 1 },
    tools: anthropicTools,
    // user_id becomes OpenAI's `user` (hashed when long) for providers other than Anthropic.
    metadata: { type: 'object', properties: { user_id: { type: ['string', 'null'] } } },
    tool_choice: {
      type: 'object',
      required: ['type'],
      properties: { type: { type: 'string', enum: ['auto', 'any', 'none', 'tool'] }, name: { type: 'string' } },
      // `tool` forces the named tool: without a name there is nothing to force.
      if: { properties: { type: { const: 'tool' } } },
      then: { required: ['name'] },
    },
  },
} as const;

/** `POST /v1/messages/count_tokens`. */
export const countTokensBodySchema = {
  type: 'object',
  required: ['model', 'messages'],
  properties: { model: { type: 'string', minLength: 1 }, messages: anthropicMessages, system: anthropicSystem, tools: anthropicTools },
} as const;
