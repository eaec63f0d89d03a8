import type { ServerResponse } from 'node:http';
import type { OpenAIErrorBody } from '../providers/errors.js';
import type { ChatCompletionStream } from '../providers/types.js';
import { toErrorReply } from './errors.js';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // Tell nginx-style proxies not to buffer.
  'x-accel-buffering': 'no',
} as const;

const DONE = 'data: [DONE]\n\n';

export function sseErrorFrame(body: OpenAIErrorBody): string {
  return `data: ${JSON.stringify(body)}\n\n`;
}

export interface PipeSseResult {
  /** The stream ran to its end (`[DONE]` written). */
  completed: boolean;
  /** The client hung up before the end. */
  clientClosed: boolean;
  /** An error that ended the stream early (already written to the client as an error frame). */
  error?: unknown;
}

/**
 * Write a stream's SSE frames to `res` as the provider yields them (no buffering; waits for `drain`
 * under backpressure). A client hang-up ends the relay and cancels the stream, which gives its
 * adapter back. `hangup`: the request's own hang-up signal (the chat route's one `close` listener,
 * which also aborts the upstream); without it this listens to `res` itself. An error mid-stream
 * becomes `data: {"error":...}` followed by `data: [DONE]`.
 */
export async function pipeSse(res: ServerResponse, stream: ChatCompletionStream, headers: Record<string, string>, hangup?: AbortSignal): Promise<PipeSseResult> {
  let clientClosed = false;
  let wake: (() => void) | undefined;
  const onHangup = (): void => {
    if (res.writableFinished) return;
    clientClosed = true;
    wake?.();
  };
  if (hangup === undefined) res.once('close', onHangup);
  else if (hangup.aborted) clientClosed = true;
  else hangup.addEventListener('abort', onHangup);
  // No flushHeaders(): the first frame is already here (the router waited for it), so the head goes
  // out with it in one write instead of a system call of its own per stream.
  res.writeHead(200, { ...SSE_HEADERS, ...headers });

  let completed = false;
  let error: unknown;
  try {
    for await (const frame of stream.sse()) {
      if (clientClosed) break;
      if (!res.write(frame) && !clientClosed) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          res.once('drain', resolve);
        });
        res.removeListener('drain', wake!);
        wake = undefined;
      }
    }
    completed = !clientClosed;
  } catch (err) {
    error = err;
    if (!clientClosed) {
      stream.cancel();
      res.write(sseErrorFrame(toErrorReply(err).body));
      res.write(DONE);
    }
  } finally {
    if (!completed) stream.cancel();
    if (!clientClosed) res.end();
    if (hangup === undefined) res.removeListener('close', onHangup);
    else hangup.removeEventListener('abort', onHangup);
  }
  return error === undefined ? { completed, clientClosed } : { completed, clientClosed, error };
}
