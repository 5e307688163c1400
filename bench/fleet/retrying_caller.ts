// A controller of a relay cluster that calls one device the documented way
// (docs/sdk.md "callWithRetry"): a failed attempt is retried with the same
// sequence number, which the device's answer cache makes idempotent through
// any relay. It knows several relays (a ControllerClient per relay): when its
// session ends (its relay drains, stops or dies) it opens one on the next.
import { RelayError } from "../../src/errors/relay_error.ts";
import type {
  ControllerClient,
  DeviceCallSession,
} from "../../src/sdk/controller_client.ts";

export interface RetryingCallerOptions {
  /** One client per relay, in the order they are tried. */
  clients: readonly ControllerClient[];
  deviceId: string;
  /** One attempt's deadline (the relay forwards it to the device). */
  attemptTimeoutMs: number;
  /** How long a request is retried before it counts as failed. */
  retryForMs: number;
  /** Pause before a retry. */
  retryPauseMs: number;
}

export class RetryingCaller {
  readonly #options: RetryingCallerOptions;
  #relay = 0;
  #session: DeviceCallSession | undefined;
  /** Attempts after the first, over all requests. */
  retries = 0;
  /** Sessions opened after the first (moves to another relay or reopenings). */
  reopened = 0;

  constructor(options: RetryingCallerOptions) {
    this.#options = options;
  }

  /** Resolves with the answer, or rejects with the last attempt's RelayError. */
  async call(
    method: string,
    payload: Uint8Array,
    sequenceNumber: number,
  ): Promise<Uint8Array> {
    const giveUpAt = performance.now() + this.#options.retryForMs;
    for (let attempt = 0;; attempt++) {
      if (attempt > 0) this.retries++;
      const session = this.#openSession();
      try {
        return await session.call(method, payload, {
          sequenceNumber,
          timeoutMs: this.#options.attemptTimeoutMs,
        });
      } catch (error) {
        const failure = RelayError.from(error);
        // A session that ended takes its relay's failure with it: any code.
        const retryable = failure.retryable || session.closed;
        if (!retryable || performance.now() > giveUpAt) throw failure;
        if (session.closed) this.#moveOn(session);
        await new Promise((resolve) =>
          setTimeout(resolve, this.#options.retryPauseMs)
        );
      }
    }
  }

  async close(): Promise<void> {
    await this.#session?.close();
  }

  #openSession(): DeviceCallSession {
    if (this.#session === undefined || this.#session.closed) {
      if (this.#session !== undefined) this.reopened++;
      const client = this.#options.clients[this.#relay]!;
      this.#session = client.openSession(this.#options.deviceId);
    }
    return this.#session;
  }

  /** The next relay, unless another attempt has already moved on. */
  #moveOn(ended: DeviceCallSession): void {
    if (this.#session !== ended) return;
    this.#relay = (this.#relay + 1) % this.#options.clients.length;
  }
}
