import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TYPES_WITHOUT_EMBEDDINGS } from '../../src/config/index.js';
import {
  createProviderAdapter,
  decodeEmbedding,
  encodeEmbedding,
  MOCK_DEFAULT_DIMENSIONS,
  PROVIDER_TYPES,
  ProviderError,
  type EmbeddingsResponse,
} from '../../src/providers/index.js';
import { sendJson, startUpstream, type Upstream } from './helpers.js';

const VECTOR = [0.5, -0.25, 0.125];

function embeddingsAnswer(n: number, base64 = false): EmbeddingsResponse {
  return {
    object: 'list',
    data: Array.from({ length: n }, (_, index) => ({ object: 'embedding' as const, index, embedding: base64 ? encodeEmbedding(VECTOR) : VECTOR })),
    model: 'upstream-embedder',
    usage: { prompt_tokens: 3 * n, total_tokens: 3 * n },
  };
}

describe('embeddings: the OpenAI-compatible family passes the request through', () => {
  let up: Upstream;
  before(async () => {
    up = await startUpstream((req, res) => {
      if (req.url.includes('fail')) return sendJson(res, 500, { error: { message: 'boom', type: 'server_error', code: null } });
      const input = req.json.input;
      sendJson(res, 200, embeddingsAnswer(Array.isArray(input) && typeof input[0] !== 'number' ? input.length : 1, req.json.encoding_format === 'base64'));
    });
  });
  after(() => up.close());

  it('POST {baseUrl}/embeddings with our model id, the key as a bearer, every field kept', async () => {
    const a = createProviderAdapter({ name: 'loop', type: 'openai-compatible', baseUrl: `${up.url}/v1`, apiKey: 'sk-up' }, 'text-embedding-3-small');
    try {
      const res = await a.embeddings!({ model: 'gateway-name', input: ['a', 'b'], dimensions: 3, user: 'u-1', encoding_format: 'float' });
      const sent = up.requests.at(-1)!;
      assert.equal(sent.method, 'POST');
      assert.equal(sent.url, '/v1/embeddings');
      assert.equal(sent.headers.authorization, 'Bearer sk-up');
      assert.deepEqual(sent.json, { model: 'text-embedding-3-small', input: ['a', 'b'], dimensions: 3, user: 'u-1', encoding_format: 'float' });
      assert.equal(res.data.length, 2);
      assert.deepEqual(res.data[1], { object: 'embedding', index: 1, embedding: VECTOR });
      assert.deepEqual(res.usage, { prompt_tokens: 6, total_tokens: 6 });
      assert.equal(a.counters().successes, 1);
    } finally {
      await a.close();
    }
  });

  it('azure-openai: the deployment path, api-version and the api-key header', async () => {
    const a = createProviderAdapter({ name: 'az', type: 'azure-openai', baseUrl: up.url, apiKey: 'az-key', deployment: 'emb-dep', apiVersion: '2024-10-21' }, 'text-embedding-3-large');
    try {
      await a.embeddings!({ model: 'x', input: 'hello' });
      const sent = up.requests.at(-1)!;
      assert.equal(sent.url, '/openai/deployments/emb-dep/embeddings?api-version=2024-10-21');
      assert.equal(sent.headers['api-key'], 'az-key');
      assert.equal(sent.headers.authorization, undefined);
    } finally {
      await a.close();
    }
  });

  it('an upstream failure is a ProviderError the router can act on, counted as a failure', async () => {
    const a = createProviderAdapter({ name: 'loop', type: 'openai-compatible', baseUrl: `${up.url}/fail` }, 'e');
    try {
      await assert.rejects(a.embeddings!({ model: 'x', input: 'hello' }), (err: unknown) => err instanceof ProviderError && err.errorClass === 'server_error' && err.status === 500);
      assert.equal(a.counters().failures, 1);
    } finally {
      await a.close();
    }
  });

  it('every provider type has embeddings except the ones the config refuses', async () => {
    for (const type of PROVIDER_TYPES) {
      const a = createProviderAdapter({ name: 'p', type, baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'k', deployment: 'd' }, 'm');
      assert.equal(typeof a.embeddings === 'function', !TYPES_WITHOUT_EMBEDDINGS.includes(type), type);
      await a.close();
    }
  });
});

describe('embeddings: the mock provider', () => {
  it('the same input gives the same unit vector, on any adapter; another input another vector', async () => {
    const a = createProviderAdapter({ name: 'm1', type: 'mock' }, 'emb');
    const b = createProviderAdapter({ name: 'm2', type: 'mock' }, 'emb');
    const r1 = await a.embeddings!({ model: 'emb', input: ['alpha', 'beta'] });
    const r2 = await b.embeddings!({ model: 'emb', input: 'alpha' });
    const v = r1.data[0]!.embedding as number[];
    assert.equal(v.length, MOCK_DEFAULT_DIMENSIONS);
    assert.deepEqual(r2.data[0]!.embedding, v);
    assert.notDeepEqual(r1.data[1]!.embedding, v);
    assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-6);
    assert.deepEqual(r1.data.map((d) => d.index), [0, 1]);
    assert.equal(r1.model, 'emb');
    assert.deepEqual(r1.usage, { prompt_tokens: 2, total_tokens: 2 });
  });

  it('mock.dimensions sets the length; a request dimensions wins', async () => {
    const a = createProviderAdapter({ name: 'm', type: 'mock', mock: { dimensions: 5 } }, 'emb');
    assert.equal(((await a.embeddings!({ model: 'emb', input: 'x' })).data[0]!.embedding as number[]).length, 5);
    assert.equal(((await a.embeddings!({ model: 'emb', input: 'x', dimensions: 7 })).data[0]!.embedding as number[]).length, 7);
  });

  it('token-id inputs: one array is one input, an array of arrays several; usage counts the ids', async () => {
    const a = createProviderAdapter({ name: 'm', type: 'mock' }, 'emb');
    const one = await a.embeddings!({ model: 'emb', input: [1, 2, 3] });
    assert.equal(one.data.length, 1);
    assert.equal(one.usage.prompt_tokens, 3);
    const two = await a.embeddings!({ model: 'emb', input: [[1, 2, 3], [4]] });
    assert.equal(two.data.length, 2);
    assert.deepEqual(two.data[0]!.embedding, one.data[0]!.embedding);
    assert.equal(two.usage.total_tokens, 4);
  });

  it('base64 is the float32 bytes of exactly the float vector', async () => {
    const a = createProviderAdapter({ name: 'm', type: 'mock' }, 'emb');
    const floats = (await a.embeddings!({ model: 'emb', input: 'same text' })).data[0]!.embedding as number[];
    const b64 = (await a.embeddings!({ model: 'emb', input: 'same text', encoding_format: 'base64' })).data[0]!.embedding;
    assert.equal(typeof b64, 'string');
    assert.deepEqual(decodeEmbedding(b64 as string), floats);
  });

  it('the fault sequence covers embeddings calls too', async () => {
    const a = createProviderAdapter({ name: 'm', type: 'mock', mock: { failRate: 1, failStatus: 503 } }, 'emb');
    await assert.rejects(a.embeddings!({ model: 'emb', input: 'x' }), (err: unknown) => err instanceof ProviderError && err.status === 503);
    assert.equal(a.counters().failures, 1);
  });
});
