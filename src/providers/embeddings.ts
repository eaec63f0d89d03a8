import type { EmbeddingsRequest } from './types.js';

/**
 * OpenAI's base64 embedding encoding: the vector's float32 values, little-endian, in base64. Used when
 * an upstream ignored the requested `encoding_format` and by the mock provider.
 */
export function encodeEmbedding(vector: readonly number[]): string {
  const buf = Buffer.allocUnsafe(vector.length * 4);
  for (let i = 0; i < vector.length; i++) buf.writeFloatLE(vector[i]!, i * 4);
  return buf.toString('base64');
}

export function decodeEmbedding(base64: string): number[] {
  const buf = Buffer.from(base64, 'base64');
  const out = new Array<number>(Math.floor(buf.length / 4));
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

/** The request's inputs one by one: each string or token-id array is embedded on its own. */
export function embeddingInputs(input: EmbeddingsRequest['input']): Array<string | number[]> {
  if (typeof input === 'string') return [input];
  if (input.length > 0 && typeof input[0] === 'number') return [input as number[]];
  return input as Array<string | number[]>;
}
