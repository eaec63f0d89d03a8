import type { ServerResponse } from 'node:http';
import { SSE_HEADERS, trackStream } from '../sse.js';

export interface PipeResult {
  /** Every frame went out. */
  completed: boolean;
  /** The client hung up before the end. */
  clientClosed: boolean;
  /** What ended the stream early (already told to the client with `errorFrame`). */
  error?: unknown;
}

export interface PipeOptions {
  headers: Record<string, string>;
  /** Abort the upstream (client hung up, or the stream failed). Idempotent. */
  cancel(): void;
  /** The frame that tells the client about a failure after the first byte. */
  errorFrame(err: unknown): string;
}

/**
 * Write SSE frames to `res` as they come, waiting for `drain` under backpressure. A client hang-up
 * cancels the upstream; a failure mid-stream is written as `errorFrame(err)` and ends the response.
 */
export async function pipeFrames(res: ServerResponse, frames: AsyncIterable<string | Uint8Array>, opts: PipeOptions): Promise<PipeResult> {
  let clientClosed = false;
  let wake: (() => void) | undefined;
  const onClose = () => {
    if (res.writableFinished) return;
    clientClosed = true;
    opts.cancel();
    wake?.();
  };
  res.once('close', onClose);
  res.writeHead(200, { ...SSE_HEADERS, ...opts.headers });
  res.flushHeaders();
  let cutBy: Error | undefined;
  const untrack = trackStream(res, (err) => {
    cutBy = err;
    opts.cancel();
    wake?.();
  });

  let completed = false;
  let error: unknown;
  try {
    for await (const frame of frames) {
      if (clientClosed || cutBy !== undefined) break;
      if (frame.length === 0) continue;
      if (!res.write(frame) && !clientClosed) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          res.once('drain', resolve);
        });
        res.removeListener('drain', wake!);
        wake = undefined;
      }
    }
    if (cutBy !== undefined) throw cutBy;
    completed = !clientClosed;
  } catch (err) {
    error = cutBy ?? err;
    if (!clientClosed) {
      opts.cancel();
      res.write(opts.errorFrame(error));
    }
  } finally {
    untrack();
    if (!completed) opts.cancel();
    if (!clientClosed) res.end();
    res.removeListener('close', onClose);
  }
  return error === undefined ? { completed, clientClosed } : { completed, clientClosed, error };
}
