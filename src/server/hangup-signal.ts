import { LightSignal } from '../routing/index.js';

/** The abort signal of one chat request: it fires when the client hangs up. */
export class HangupSignal extends LightSignal {
  override abort(reason: unknown = new DOMException('The client closed the connection', 'AbortError')): void {
    super.abort(reason);
  }
}
