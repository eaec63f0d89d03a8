/**
 * The one way to name a pool key. Model ids may themselves contain ':' (`ollama/llama3:8b`), so a
 * key is never split back: whoever needs the parts keeps the `{ model, provider }` pair.
 */
export function poolKey(model: string, provider: string): string {
  return `${model}:${provider}`;
}
