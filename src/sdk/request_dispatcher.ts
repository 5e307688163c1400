// Runs the device application's handlers for the relay's data requests:
// opens the end-to-end envelope, picks the handler by method name, bounds
// how many run at once, aborts at the controller's deadline or the session's
// end, and answers every request exactly once.
import type { DeviceE2e } from "../e2e/device_e2e.ts";
import { type ErrorCode, RelayError } from "../errors/relay_error.ts";
import type { ClientStream, DeviceMessage, RelayMessage } from "./connector.ts";

export interface DeviceRequest {
  method: string;
  payload: Uint8Array;
  controllerId: string;
  /** The controller's sequence number for this request. */
  sequenceNumber: number;
  /** True when the request came end-to-end encrypted (false only with allowPlaintext). */
  encrypted: boolean;
  /** Aborted at the controller's deadline or when the agent closes. */
  signal: AbortSignal;
}

/** Returns the response bytes, or throws a RelayError to answer with its code. */
export type DeviceHandler = (
  request: DeviceRequest,
) => Uint8Array | Promise<Uint8Array>;

/** Requests answered, for AgentStats. */
export interface DispatchStats {
  requestsHandled: number;
  requestsFailed: number;
}

export interface RequestDispatcherOptions {
  deviceId: string;
  handlers: ReadonlyMap<string, DeviceHandler>;
  /** Handlers running at once; further requests wait. */
  maxConcurrent: number;
  /** Counted into as requests are answered. */
  stats: DispatchStats;
}

/** The connection a request came on. */
export interface DispatchSession {
  e2e: DeviceE2e;
  stream: ClientStream<DeviceMessage, RelayMessage>;
  /** Aborted when the session's connection ends or the agent closes. */
  signal: AbortSignal;
}

export class RequestDispatcher {
  readonly #options: RequestDispatcherOptions;
  #activeHandlers = 0;
  #handlerSlots: (() => void)[] = [];

  constructor(options: RequestDispatcherOptions) {
    this.#options = options;
  }

  /** Runs the handler of one request in the background and answers it. */
  dispatch(
    request: NonNullable<RelayMessage["data_request"]>,
    session: DispatchSession,
  ): void {
    const { e2e, stream, signal: sessionSignal } = session;
    const reply = (
      payload: Uint8Array,
      error: ErrorCode,
      errorMessage: string,
    ) => {
      this.#options.stats.requestsHandled++;
      if (error !== "OK") this.#options.stats.requestsFailed++;
      return stream.send({
        device_id: this.#options.deviceId,
        data: {
          connection_id: request.connection_id,
          sequence_number: request.sequence_number,
          encrypted_payload: payload,
          error,
          error_message: errorMessage,
        },
      }).catch(() => {
        // The connection dropped; the relay re-sends the request after resume.
      });
    };
    const handler = this.#options.handlers.get(request.method_name) ??
      this.#options.handlers.get("*");
    if (handler === undefined) {
      reply(
        new Uint8Array(0),
        "METHOD_NOT_FOUND",
        `no handler for ${request.method_name}`,
      );
      return;
    }
    // Aborted at the controller's deadline or when the session ends; the
    // timer and listener go away as soon as the handler settles.
    const abort = new AbortController();
    const onSessionEnd = () => abort.abort(sessionSignal.reason);
    sessionSignal.addEventListener("abort", onSessionEnd, { once: true });
    const timer = request.timeout_ms > 0
      ? setTimeout(
        () =>
          abort.abort(
            new RelayError("DEADLINE_EXCEEDED", "request deadline passed"),
          ),
        request.timeout_ms,
      )
      : undefined;
    const signal = abort.signal;
    this.#runHandler(async () => {
      try {
        // Refusals (plaintext, tampered, replayed, stale) are answered with
        // their INVALID_REQUEST before any handler sees the request.
        const opened = await e2e.open({
          deviceId: this.#options.deviceId,
          controllerId: request.controller_id,
          method: request.method_name,
          payload: request.encrypted_payload,
        });
        const payload = await handler({
          method: request.method_name,
          payload: opened.payload,
          controllerId: request.controller_id,
          sequenceNumber: request.controller_sequence_number,
          encrypted: opened.encrypted,
          signal,
        });
        await reply(await opened.seal(payload), "OK", "");
      } catch (error) {
        const relayError = error instanceof RelayError ? error : new RelayError(
          "INTERNAL_ERROR",
          `handler failed: ${(error as Error)?.message ?? error}`,
        );
        await reply(new Uint8Array(0), relayError.code, relayError.message);
      } finally {
        clearTimeout(timer);
        sessionSignal.removeEventListener("abort", onSessionEnd);
      }
    });
  }

  async #runHandler(task: () => Promise<void>): Promise<void> {
    const limit = this.#options.maxConcurrent;
    if (this.#activeHandlers >= limit) {
      await new Promise<void>((resolve) => this.#handlerSlots.push(resolve));
    }
    this.#activeHandlers++;
    try {
      await task();
    } finally {
      this.#activeHandlers--;
      this.#handlerSlots.shift()?.();
    }
  }
}

/** The built-in `--echo` handler: returns the request payload unchanged. */
export const echoHandler: DeviceHandler = (request) => request.payload;
