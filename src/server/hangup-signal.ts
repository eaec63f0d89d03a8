import { LightSignal } from '../routing/index.js';

/** The abort signal of one model request (chat completions, messages, embeddings): it fires when the client hangs up. */
export class HangupSignal extends LightSignal {
  /** Its place among the requests waiting for an answer (`OpenRequests`, a SlotList); -1 when not there. */
  slot = -1;

  override abort(reason: unknown = new DOMException('The client closed the connection', 'AbortError')): void {
    super.abort(reason);
  }
}
