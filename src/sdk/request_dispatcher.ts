// Runs the device application's handlers for the relay's data requests:
// opens the end-to-end envelope, picks the handler by method name, bounds
// how many run at once, aborts at the controller's deadline or the session's
// end, answers a retry (same controller and sequence number) from the
// answer cache instead of running the handler again, and answers every
// request exactly once.
import type { DecryptedRequest, DeviceE2e } from "../e2e/device_e2e.ts";
import { requestRejected } from "../e2e/envelope.ts";
import { type ErrorCode, RelayError } from "../errors/relay_error.ts";
import {
  type Answer,
  AnswerCache,
  requestFingerprint,
} from "./answer_cache.ts";
import type { ClientStream, DeviceMessage, RelayMessage } from "./connector.ts";
import {
  endSpan,
  SpanKind,
  startSpan,
  withSpan,
} from "../observability/tracing.ts";

export interface DeviceRequest {
  method: string;
  payload: Uint8Array;
  controllerId: string;
  /** The controller's sequence number for this request. */
  sequenceNumber: number;
  /** True when the request came end-to-end encrypted (false only with allowPlaintext). */
  encrypted: boolean;
  /**
   * Fingerprint ("SHA256:...") of the controller key that sealed it, when it
   * came in a session envelope (the sender authenticated); else undefined.
   */
  controllerKey?: string | undefined;
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
  /** Answered from the answer cache or by joining a duplicate still running. */
  requestsDeduplicated: number;
}

export interface RequestDispatcherOptions {
  deviceId: string;
  handlers: ReadonlyMap<string, DeviceHandler>;
  /** Handlers running at once; further requests wait. */
  maxConcurrent: number;
  /** Counted into as requests are answered. */
  stats: DispatchStats;
  /** Answers of recent requests, for retries with the same sequence number. */
  answers: AnswerCache;
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
    // The relay's span is the parent; the handler runs inside this one.
    const span = startSpan("relay.device.handle", SpanKind.SERVER, {
      "rpc.method": request.method_name,
      "relay.device_id": this.#options.deviceId,
      "relay.controller_id": request.controller_id,
    }, request.traceparent);
    const reply = (
      payload: Uint8Array,
      error: ErrorCode,
      errorMessage: string,
    ) => {
      endSpan(span, error);
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
    this.#runHandler(() =>
      withSpan(span, async () => {
        try {
          // Refusals (plaintext, tampered, stale) are answered with their
          // INVALID_REQUEST before any handler sees the request. A replayed
          // envelope passes here: the answer cache may still answer it.
          const opened = await e2e.open({
            deviceId: this.#options.deviceId,
            controllerId: request.controller_id,
            method: request.method_name,
            payload: request.encrypted_payload,
          }, { acceptReplay: true });
          const execute = () => this.#execute(handler, request, opened, signal);
          const sequenceNumber = request.controller_sequence_number;
          // 0 is proto3's "unset": not deduplicated, as on the relay.
          const { answer, source } = sequenceNumber === 0
            ? { answer: await execute(), source: "executed" }
            : await this.#options.answers.run(
              AnswerCache.key(request.controller_id, sequenceNumber),
              requestFingerprint(
                request.method_name,
                opened.payload,
                opened.encrypted,
              ),
              execute,
            );
          span?.setAttribute("relay.idempotency", source);
          if (source !== "executed") this.#options.stats.requestsDeduplicated++;
          if (answer.error === "OK") {
            // Sealed anew for the envelope that asked (a retry has its own).
            await reply(await opened.seal(answer.payload), "OK", "");
          } else {
            await reply(new Uint8Array(0), answer.error, answer.errorMessage);
          }
        } catch (error) {
          const relayError = asRelayError(error);
          await reply(new Uint8Array(0), relayError.code, relayError.message);
        } finally {
          clearTimeout(timer);
          sessionSignal.removeEventListener("abort", onSessionEnd);
        }
      })
    );
  }

  /**
   * Runs the handler. Its outcome, bytes or error, resolves and is kept for
   * retries: the handler ran, and only answering a retry with what it decided
   * stops a second run. What rejects is not kept, so a retry runs the handler
   * again: a replayed envelope (nothing ran), an error the handler marks
   * retryable (a RelayError with `retryable`, by default UNAVAILABLE,
   * RATE_LIMITED, DEADLINE_EXCEEDED, DEVICE_OFFLINE: "nothing done, try
   * again"), and an error thrown once `signal` was aborted (deadline,
   * connection end, close), which the interruption caused.
   */
  async #execute(
    handler: DeviceHandler,
    request: NonNullable<RelayMessage["data_request"]>,
    opened: DecryptedRequest,
    signal: AbortSignal,
  ): Promise<Answer> {
    if (opened.replayed) throw requestRejected("replayed");
    try {
      const payload = await handler({
        method: request.method_name,
        payload: opened.payload,
        controllerId: request.controller_id,
        sequenceNumber: request.controller_sequence_number,
        encrypted: opened.encrypted,
        controllerKey: opened.controllerKey,
        signal,
      });
      return { payload, error: "OK", errorMessage: "" };
    } catch (error) {
      const relayError = asRelayError(error);
      if (signal.aborted || relayError.retryable) throw relayError;
      return {
        payload: new Uint8Array(0),
        error: relayError.code,
        errorMessage: relayError.message,
      };
    }
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

/** A handler's exception as the RelayError it answers with. */
function asRelayError(error: unknown): RelayError {
  return error instanceof RelayError ? error : new RelayError(
    "INTERNAL_ERROR",
    `handler failed: ${(error as Error)?.message ?? error}`,
  );
}

/** The built-in `--echo` handler: returns the request payload unchanged. */
export const echoHandler: DeviceHandler = (request) => request.payload;
