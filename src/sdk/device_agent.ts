// Device agent SDK: keeps one connection to the relay alive forever
// (exponential backoff with full jitter, resume with previous_connection_id),
// answers heartbeats, and runs the application's handler per method name.
import { type ErrorCode, RelayError } from "../errors/relay_error.ts";
import { backoffDelay, type BackoffOptions, sleep } from "./backoff.ts";
import type {
  ClientStream,
  DeviceConnector,
  DeviceMessage,
  RelayMessage,
} from "./connector.ts";

export interface DeviceRequest {
  method: string;
  payload: Uint8Array;
  controllerId: string;
  /** The controller's sequence number for this request. */
  sequenceNumber: number;
  /** Aborted at the controller's deadline or when the agent closes. */
  signal: AbortSignal;
}

/** Returns the response bytes, or throws a RelayError to answer with its code. */
export type DeviceHandler = (
  request: DeviceRequest,
) => Uint8Array | Promise<Uint8Array>;

export type AgentState = "connecting" | "connected" | "disconnected" | "closed";

export interface AgentStateDetail {
  state: AgentState;
  connectionId: string;
  resumed: boolean;
  transport: string;
  /** Why the last connection ended or was refused. */
  error?: RelayError;
}

export interface DeviceAgentOptions {
  connector: DeviceConnector;
  deviceId: string;
  token: string;
  metadata?: Record<string, string>;
  /** Used until the relay announces its own interval. */
  heartbeatIntervalMs?: number;
  /** How long to wait for the relay's register response. */
  registerTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** Handlers running at once; further requests wait. */
  maxConcurrentHandlers?: number;
}

export class DeviceAgent {
  readonly #options: DeviceAgentOptions;
  readonly #handlers = new Map<string, DeviceHandler>();
  readonly #closing = new AbortController();
  readonly #backoff: BackoffOptions;
  #state: AgentStateDetail = {
    state: "disconnected",
    connectionId: "",
    resumed: false,
    transport: "",
  };
  #running: Promise<void> | undefined;
  #stream: ClientStream<DeviceMessage, RelayMessage> | undefined;
  #activeHandlers = 0;
  #handlerSlots: (() => void)[] = [];

  readonly #listeners = new Set<(detail: AgentStateDetail) => void>();

  constructor(options: DeviceAgentOptions) {
    this.#options = options;
    this.#backoff = {
      initialMs: options.backoff?.initialMs ?? 500,
      maxMs: options.backoff?.maxMs ?? 30_000,
      ...(options.backoff?.random ? { random: options.backoff.random } : {}),
    };
  }

  get state(): AgentStateDetail {
    return this.#state;
  }

  /** Registers the handler for one method name ("*" handles any other method). */
  handle(method: string, handler: DeviceHandler): this {
    this.#handlers.set(method, handler);
    return this;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /** Connection-state events; returns a function that unsubscribes. */
  onState(listener: (detail: AgentStateDetail) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves once the agent reaches `state` (e.g. "connected"). */
  waitFor(
    state: AgentState,
    predicate: (detail: AgentStateDetail) => boolean = () => true,
  ): Promise<AgentStateDetail> {
    return new Promise((resolve) => {
      if (this.#state.state === state && predicate(this.#state)) {
        return resolve(this.#state);
      }
      const unsubscribe = this.onState((detail) => {
        if (detail.state !== state || !predicate(detail)) return;
        unsubscribe();
        resolve(detail);
      });
    });
  }

  /** Ends the session gracefully (the relay reports it offline at once). */
  async close(): Promise<void> {
    this.#closing.abort();
    this.#stream?.end();
    await this.#running;
    this.#options.connector.close();
    this.#setState({ ...this.#state, state: "closed" });
  }

  async #run(): Promise<void> {
    let attempt = 0;
    let previousConnectionId = "";
    while (!this.#closing.signal.aborted) {
      this.#setState({
        state: "connecting",
        connectionId: this.#state.connectionId,
        resumed: false,
        transport: this.#options.connector.transport,
      });
      const outcome = await this.#session(previousConnectionId);
      if (outcome.connectionId !== "") {
        previousConnectionId = outcome.connectionId;
        attempt = 0;
      }
      if (this.#closing.signal.aborted) break;
      this.#setState({
        ...this.#state,
        state: "disconnected",
        ...(outcome.error ? { error: outcome.error } : {}),
      });
      await sleep(backoffDelay(attempt++, this.#backoff), this.#closing.signal);
    }
  }

  /** One connection, from register to its end. */
  async #session(
    previousConnectionId: string,
  ): Promise<{ connectionId: string; error?: RelayError }> {
    const stream = this.#options.connector.connect();
    this.#stream = stream;
    const inbound = stream.messages[Symbol.asyncIterator]();
    let connectionId = "";
    let heartbeat: ReturnType<typeof setInterval> | undefined;
    const sessionAbort = new AbortController();
    const onClose = () => sessionAbort.abort();
    this.#closing.signal.addEventListener("abort", onClose, { once: true });
    try {
      await stream.send({
        device_id: this.#options.deviceId,
        token: this.#options.token,
        register: {
          device_id: this.#options.deviceId,
          metadata: this.#options.metadata ?? {},
          previous_connection_id: previousConnectionId,
        },
      });
      const first = await this.#withTimeout(
        inbound.next(),
        this.#options.registerTimeoutMs ?? 10_000,
      );
      if (first.done) {
        throw new RelayError(
          "UNAVAILABLE",
          "relay closed the stream during register",
        );
      }
      const message = first.value;
      if (message.error) {
        throw new RelayError(
          message.error.code as ErrorCode,
          message.error.message,
          { source: "upstream" },
        );
      }
      const registered = message.register_response;
      if (!registered) {
        throw new RelayError("INTERNAL_ERROR", "relay did not answer register");
      }
      connectionId = registered.connection_id;
      this.#setState({
        state: "connected",
        connectionId,
        resumed: registered.session_resumed,
        transport: this.#options.connector.transport,
      });
      const intervalMs = registered.heartbeat_interval_ms ||
        this.#options.heartbeatIntervalMs || 30_000;
      heartbeat = setInterval(() => {
        stream.send({
          device_id: this.#options.deviceId,
          heartbeat: { connection_id: connectionId, timestamp: Date.now() },
        }).catch(() => {
          // The stream is failing; the read loop below ends and reconnects.
        });
      }, intervalMs);

      for (;;) {
        const next = await inbound.next();
        if (next.done) return { connectionId };
        const relayMessage = next.value;
        if (relayMessage.data_request) {
          this.#dispatch(
            stream,
            relayMessage.data_request,
            sessionAbort.signal,
          );
        } else if (relayMessage.error) {
          return {
            connectionId,
            error: new RelayError(
              relayMessage.error.code as ErrorCode,
              relayMessage.error.message,
              {
                source: "upstream",
              },
            ),
          };
        }
      }
    } catch (error) {
      stream.abort();
      return { connectionId, error: RelayError.from(error, "UNAVAILABLE") };
    } finally {
      clearInterval(heartbeat);
      sessionAbort.abort();
      this.#closing.signal.removeEventListener("abort", onClose);
    }
  }

  #dispatch(
    stream: ClientStream<DeviceMessage, RelayMessage>,
    request: NonNullable<RelayMessage["data_request"]>,
    sessionSignal: AbortSignal,
  ): void {
    const reply = (
      payload: Uint8Array,
      error: ErrorCode,
      errorMessage: string,
    ) =>
      stream.send({
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
    const handler = this.#handlers.get(request.method_name) ??
      this.#handlers.get("*");
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
        const payload = await handler({
          method: request.method_name,
          payload: request.encrypted_payload,
          controllerId: request.controller_id,
          sequenceNumber: request.controller_sequence_number,
          signal,
        });
        await reply(payload, "OK", "");
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
    const limit = this.#options.maxConcurrentHandlers ?? 256;
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

  #withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new RelayError("DEADLINE_EXCEEDED", "register timed out")),
          ms,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  #setState(detail: AgentStateDetail): void {
    this.#state = detail;
    for (const listener of [...this.#listeners]) listener(detail);
  }
}

/** The built-in `--echo` handler: returns the request payload unchanged. */
export const echoHandler: DeviceHandler = (request) => request.payload;
