/** What the benchmark upstream (bench/upstream.ts) sends, shared with the reports. */

/** Chunk frames per stream (the role, the tokens, the finish), then `[DONE]`. */
export const STREAM_CHUNKS = 20;
