import type { ServerResponse } from 'node:http';
import type { OpenAIErrorBody } from '../providers/errors.js';
import type { ChatCompletionStream } from '../providers/types.js';
import { SlotList } from '../routing/index.js';
import { shuttingDown, toErrorReply } from './errors.js';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // Tell nginx-style proxies not to buffer.
  'x-accel-buffering': 'no',
} as const;

const DONE = 'data: [DONE]\n\n';

/** An SSE comment: every SSE parser skips it (the OpenAI and Anthropic SDKs included), proxies see bytes. */
const KEEP_ALIVE_FRAME = ': keep-alive\n\n';

function sseErrorFrame(body: OpenAIErrorBody): string {
  return `data: ${JSON.stringify(body)}\n\n`;
}

/**
 * Streams being written, per HTTP server: at the shutdown deadline the gateway ends each with an
 * error event (and `[DONE]`) instead of a connection reset that tells the client nothing.
 */
const open = new WeakMap<object, SlotList<OpenStream>>();

interface OpenStream {
  cut: (err: Error) => void;
  slot: number;
}

/** Follow a stream written to `res` until `untrack()`; `cut(err)` ends it with `err` as its last event. */
function trackStream(res: ServerResponse, cut: (err: Error) => void): () => void {
  // An accepted socket knows its server (`socket.server`, untyped in @types/node).
  const server = (res.req?.socket as { server?: object } | undefined)?.server;
  if (server === undefined) return () => {};
  let list = open.get(server);
  if (list === undefined) open.set(server, (list = new SlotList()));
  const streams = list;
  const stream: OpenStream = { cut, slot: -1 };
  streams.add(stream);
  return () => void streams.delete(stream);
}

/** The shutdown deadline: end every stream of `server` with an error event. Returns how many. */
export function cutStreams(server: object): number {
  const streams = open.get(server);
  if (streams === undefined) return 0;
  // The same code as every other answer of a gateway that is shutting down (README's error table).
  const err = shuttingDown('The gateway is shutting down and ended this stream; retry the request.');
  const cuts = streams.takeAll();
  for (const s of cuts) s.cut(err);
  return cuts.length;
}

/**
 * Keeps a streaming response alive while it waits for its first event. Until then the gateway holds
 * the head back, so that a failure can still answer with its own status and a retry can still go to
 * another deployment. But a reasoning model may think for minutes (`firstByteTimeout`: 5 min), and a
 * proxy or load balancer between client and gateway cuts a connection that stays silent for its idle
 * timeout (nginx: 60 s). So after `intervalMs` of waiting this sends the head (200, SSE) and a
 * comment, then one comment per interval, until `stop()`. Once `committed`, the status is sent: a
 * failure is told as the API's error event in the stream, and the response's later headers
 * (deployment, attempts) are not sent. Failover goes on as before: only comments have gone out.
 */
export class FirstEventWait {
  /** The head and at least one comment are written. */
  committed = false;
  private timer: NodeJS.Timeout | undefined;

  /** `onCommit` runs once, just before the head is written (a route hands the response over to itself then). */
  constructor(
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
    intervalMs: number,
    private readonly onCommit: () => void,
  ) {
    if (intervalMs > 0) {
      this.timer = setInterval(() => this.ping(), intervalMs);
      this.timer.unref();
    }
  }

  private ping(): void {
    const res = this.res;
    if (res.destroyed || res.writableEnded) return this.stop();
    if (!this.committed) {
      this.committed = true;
      this.onCommit();
      res.writeHead(200, { ...SSE_HEADERS, ...this.headers });
    }
    res.write(KEEP_ALIVE_FRAME);
  }

  /** The first event came, or the wait failed: no more comments. Idempotent. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * The wait failed with `err`: no more comments. False while the head is still held (the route
   * answers with the error's own status); true once it was out, and then `frame(err)` (the API's error
   * event) ends the response, unless the client already left.
   */
  fail(err: unknown, frame: (err: unknown) => string): boolean {
    this.stop();
    if (!this.committed) return false;
    const res = this.res;
    if (!res.destroyed && !res.writableEnded) res.end(frame(err));
    return true;
  }
}

export interface PipeResult {
  /** Every frame went out (for a chat stream: `[DONE]` written). */
  completed: boolean;
  /** The client hung up before the end (or was cut for taking nothing within `writeTimeoutMs`). */
  clientClosed: boolean;
  /** The client was cut for taking nothing within `writeTimeoutMs`. */
  stalled?: true;
  /** What ended the stream early (already told to the client with `errorFrame`). */
  error?: unknown;
}

export interface PipeOptions {
  /** Response headers beside `SSE_HEADERS`. */
  headers: Record<string, string>;
  /** Abort the upstream (client hung up, the stream failed, the gateway is shutting down). Idempotent. */
  cancel(): void;
  /** What tells the client about a failure after the first byte (the API's own error event). */
  errorFrame(err: unknown): string;
  /** The request's own hang-up signal, if the route has one; without it this listens to `res` itself. */
  hangup?: AbortSignal;
  /** `server.writeTimeout`: how long to wait for `drain` before cutting the client off (0 = forever). */
  writeTimeoutMs?: number;
  /** `server.streamKeepAlive`: a comment after a silence this long between frames (0 = never). */
  keepAliveMs?: number;
}

/**
 * Write SSE frames to `res` as they come (no buffering; waits for `drain` under backpressure). A
 * client hang-up ends the relay and cancels the upstream, which gives its adapter back; a failure
 * mid-stream, or the shutdown deadline (`cutStreams`), is written as `errorFrame(err)` and ends the
 * response. One loop for every streaming API: chat completions and Anthropic's messages differ only
 * in their frames and error event.
 */
export async function pipeFrames(res: ServerResponse, frames: AsyncIterable<string | Uint8Array>, opts: PipeOptions): Promise<PipeResult> {
  const hangup = opts.hangup;
  const writeTimeoutMs = opts.writeTimeoutMs ?? 0;
  let clientClosed = false;
  let stalled = false;
  let wake: (() => void) | undefined;
  const onHangup = (): void => {
    if (res.writableFinished) return;
    clientClosed = true;
    opts.cancel();
    wake?.();
  };
  if (hangup === undefined) res.once('close', onHangup);
  else if (hangup.aborted) clientClosed = true;
  else hangup.addEventListener('abort', onHangup);
  // No flushHeaders(): the first frame is already here (the router waited for it), so the head goes
  // out with it in one write instead of a system call of its own per stream. A long wait for that
  // frame may have sent the head already (FirstEventWait).
  if (!res.headersSent) res.writeHead(200, { ...SSE_HEADERS, ...opts.headers });
  let cutBy: Error | undefined;
  const untrack = trackStream(res, (err) => {
    cutBy = err;
    opts.cancel();
    wake?.();
  });

  // A silence between frames (a model reasoning after its first event) gets comments too: a frame
  // written since the last tick skips the comment, so a steady stream pays one timer and no writes.
  let wrote = true;
  const keepAlive = (opts.keepAliveMs ?? 0) > 0 ? setInterval(() => {
    if (!wrote && !res.writableNeedDrain && !res.writableEnded && !res.destroyed) res.write(KEEP_ALIVE_FRAME);
    wrote = false;
  }, opts.keepAliveMs) : undefined;
  keepAlive?.unref();

  let completed = false;
  let error: unknown;
  try {
    for await (const frame of frames) {
      if (clientClosed || cutBy !== undefined) break;
      if (frame.length === 0) continue;
      wrote = true;
      if (!res.write(frame) && !clientClosed) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          res.once('drain', resolve);
          // A client that reads nothing would keep its adapter for good: cut it, which is a hang-up.
          if (writeTimeoutMs > 0) {
            timer = setTimeout(() => {
              stalled = true;
              res.destroy();
              onHangup();
            }, writeTimeoutMs);
          }
        });
        clearTimeout(timer);
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
    clearInterval(keepAlive);
    untrack();
    if (!completed) opts.cancel();
    if (!clientClosed) res.end();
    if (hangup === undefined) res.removeListener('close', onHangup);
    else hangup.removeEventListener('abort', onHangup);
  }
  const result: PipeResult = error === undefined ? { completed, clientClosed } : { completed, clientClosed, error };
  if (stalled) result.stalled = true;
  return result;
}

/** A chat stream's error event and the `[DONE]` that closes it. */
export function chatErrorFrame(err: unknown): string {
  return sseErrorFrame(toErrorReply(err).body) + DONE;
}

/**
 * A chat completion stream through `pipeFrames`: its SSE frames as the provider yields them; an
 * error mid-stream becomes `data: {"error":...}` followed by `data: [DONE]`.
 */
export function pipeSse(res: ServerResponse, stream: ChatCompletionStream, headers: Record<string, string>, hangup?: AbortSignal, writeTimeoutMs?: number, keepAliveMs?: number): Promise<PipeResult> {
  return pipeFrames(res, stream.sse(), {
    headers,
    hangup,
    writeTimeoutMs,
    keepAliveMs,
    cancel: () => stream.cancel(),
    errorFrame: chatErrorFrame,
  });
}
