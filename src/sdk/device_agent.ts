// Device agent SDK: keeps one connection to the relay alive forever
// (exponential backoff with full jitter, resume with previous_connection_id),
// answers heartbeats, runs the application's handler per method name, and
// publishes the device's status and telemetry through the relay connection.
// Requests are end-to-end encrypted to the device's key (advertised in the
// register metadata); plaintext requests are refused unless allowed. Recent
// answers are kept so a retried request does not run its handler twice.
import { DeviceE2e } from "../e2e/device_e2e.ts";
import {
  generateDeviceKey,
  loadOrCreateDeviceKeyFile,
  publicKeyMetadata,
} from "../e2e/device_key.ts";
import { RelayError } from "../errors/relay_error.ts";
import { AgentConnection } from "./agent_connection.ts";
import { AnswerCache, DEFAULT_ANSWER_CACHE_LIMITS } from "./answer_cache.ts";
import {
  backoffDelay,
  type BackoffOptions,
  DEFAULT_REFUSED_MAX_MS,
  nextAttempt,
  sleep,
} from "./backoff.ts";
import {
  type PublishOptions,
  PublishOutbox,
  type SendPublish,
} from "./publish_outbox.ts";
import {
  encodePublishPayload,
  type PublishPayload,
  STATUS_DEFAULTS,
  statusTopic,
  TELEMETRY_DEFAULTS,
  telemetryTopic,
} from "./device_topics.ts";
import type { RelayMoveHint } from "./connector.ts";
import { GrpcCallForwarder } from "./grpc_call_forwarder.ts";
import { type DeviceHandler, RequestDispatcher } from "./request_dispatcher.ts";

export {
  type DeviceHandler,
  type DeviceRequest,
  echoHandler,
} from "./request_dispatcher.ts";
import { waitAtMost } from "../limits/deadline.ts";

/** Relays a moving device tries before it stays where it is. */
const MOVE_TRIES = 3;

export type { PublishOptions, Qos } from "./publish_outbox.ts";
export type { AnswerCacheLimits } from "./answer_cache.ts";
export type { PublishPayload } from "./device_topics.ts";
export type {
  AgentState,
  AgentStateDetail,
  AgentStats,
  DeviceAgentOptions,
} from "./device_agent_options.ts";
import type {
  AgentState,
  AgentStateDetail,
  AgentStats,
  DeviceAgentOptions,
} from "./device_agent_options.ts";
import { endLongLivedStreamSpans } from "../observability/stream_spans.ts";

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
  #connection: AgentConnection | undefined;
  readonly #dispatcher: RequestDispatcher;
  readonly #answers: AnswerCache;
  #e2e: Promise<DeviceE2e> | undefined;
  readonly #outbox: PublishOutbox;
  readonly #stats: AgentStats = {
    requestsHandled: 0,
    requestsFailed: 0,
    requestsDeduplicated: 0,
    connects: 0,
  };

  readonly #listeners = new Set<(detail: AgentStateDetail) => void>();
  readonly #grpcCalls: GrpcCallForwarder | undefined;

  constructor(options: DeviceAgentOptions) {
    endLongLivedStreamSpans();
    this.#options = options;
    this.#backoff = {
      initialMs: options.backoff?.initialMs ?? 500,
      maxMs: options.backoff?.maxMs ?? 30_000,
      refusedMaxMs: options.backoff?.refusedMaxMs ?? DEFAULT_REFUSED_MAX_MS,
      ...(options.backoff?.random ? { random: options.backoff.random } : {}),
    };
    this.#answers = new AnswerCache({
      ...DEFAULT_ANSWER_CACHE_LIMITS,
      ...options.idempotency,
    });
    this.#dispatcher = new RequestDispatcher({
      deviceId: options.deviceId,
      handlers: this.#handlers,
      maxConcurrent: options.maxConcurrentHandlers ?? 256,
      stats: this.#stats,
      answers: this.#answers,
    });
    this.#outbox = new PublishOutbox({
      maxUnacked: options.maxUnackedPublishes ?? 32,
      maxQueued: options.maxQueuedPublishes ?? 100,
    });
    this.#grpcCalls = options.grpcTarget && new GrpcCallForwarder({
      target: options.grpcTarget,
      connector: options.connector,
      deviceId: options.deviceId,
      token: options.token,
      transport: () => this.#connection?.transport,
      ...(options.maxConcurrentGrpcCalls === undefined
        ? {}
        : { maxConcurrentCalls: options.maxConcurrentGrpcCalls }),
    });
  }

  get deviceId(): string {
    return this.#options.deviceId;
  }

  get stats(): AgentStats {
    return { ...this.#stats };
  }

  /**
   * Publishes on MQTT through the relay connection, as this device (only its
   * own topics). Resolves on the relay's ack; rejects with its RelayError,
   * with UNAVAILABLE when the connection drops first, or at once when the
   * bounded queue is full. Queued while disconnected. See PublishOutbox and
   * encodePublishPayload.
   */
  publish(
    topic: string,
    payload: PublishPayload,
    options: PublishOptions = {},
  ): Promise<void> {
    if (this.#closing.signal.aborted) {
      return Promise.reject(
        new RelayError("CANCELLED", "device agent is closing"),
      );
    }
    const bytes = encodePublishPayload(payload, this.#options.deviceId);
    return this.#outbox.publish(topic, bytes, options);
  }

  /** The device's status on device/{id}/status (QoS 1, retained). */
  publishStatus(
    status: PublishPayload,
    options: PublishOptions = {},
  ): Promise<void> {
    const topic = statusTopic(this.#options.deviceId);
    return this.publish(topic, status, { ...STATUS_DEFAULTS, ...options });
  }

  /** One telemetry sample on telemetry/{id} (QoS 0, not retained). */
  publishTelemetry(
    data: PublishPayload,
    options: PublishOptions = {},
  ): Promise<void> {
    const topic = telemetryTopic(this.#options.deviceId);
    return this.publish(topic, data, { ...TELEMETRY_DEFAULTS, ...options });
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

  /** The fingerprint ("SHA256:...") of the device's E2E public key. */
  async e2eFingerprint(): Promise<string> {
    return (await this.#encryption()).key.fingerprint;
  }

  #encryption(): Promise<DeviceE2e> {
    this.#e2e ??= (async () => {
      const option = this.#options.e2eKey;
      const key = typeof option === "string"
        ? (await loadOrCreateDeviceKeyFile(option)).key
        : option ?? await generateDeviceKey();
      return new DeviceE2e({
        key,
        allowPlaintext: this.#options.allowPlaintext ?? false,
        trustedControllers: this.#options.trustedControllers,
        ...(this.#options.e2eWindowMs === undefined
          ? {}
          : { windowMs: this.#options.e2eWindowMs }),
      });
    })();
    return this.#e2e;
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
    this.#connection?.end();
    // A relay that vanished never acknowledges the end: drop the stream then.
    await waitAtMost(
      this.#running ?? Promise.resolve(),
      this.#options.closeTimeoutMs ?? 1000,
    );
    this.#connection?.stop();
    await this.#running;
    this.#outbox.close(new RelayError("CANCELLED", "device agent closed"));
    this.#answers.close();
    await this.#grpcCalls?.close();
    this.#options.connector.close();
    this.#setState({ ...this.#state, state: "closed" });
  }

  async #run(): Promise<void> {
    let e2e: DeviceE2e;
    try {
      e2e = await this.#encryption();
    } catch (error) {
      // No key, no service: a device never answers without its key.
      this.#outbox.close(
        new RelayError("UNAVAILABLE", "device agent stopped: no E2E key"),
      );
      this.#setState({
        ...this.#state,
        state: "closed",
        error: RelayError.from(error, "INVALID_REQUEST"),
      });
      return;
    }
    let attempt = 0;
    let previousConnectionId = "";
    while (!this.#closing.signal.aborted) {
      this.#setState({
        state: "connecting",
        connectionId: this.#state.connectionId,
        resumed: false,
        transport: this.#options.connector.transport,
      });
      let connection: AgentConnection;
      try {
        connection = await this.#open(e2e, previousConnectionId);
      } catch (error) {
        if (this.#closing.signal.aborted) break;
        this.#setState({
          ...this.#state,
          state: "disconnected",
          error: RelayError.from(error),
        });
        const delay = backoffDelay(attempt, this.#backoff);
        attempt = nextAttempt(
          attempt,
          error instanceof RelayError && error.refused,
          this.#backoff,
        );
        await sleep(delay, this.#closing.signal);
        continue;
      }
      attempt = 0;
      const outcome = await this.#serve(e2e, connection);
      previousConnectionId = outcome.connectionId;
      if (this.#closing.signal.aborted) break;
      this.#setState({
        ...this.#state,
        state: "disconnected",
        ...(outcome.error ? { error: outcome.error } : {}),
      });
      await sleep(backoffDelay(attempt++, this.#backoff), this.#closing.signal);
    }
  }

  /** Connects and registers; `preferredOnly` moves a session back to the preferred transport. */
  #open(
    e2e: DeviceE2e,
    previousConnectionId: string,
    preferredOnly = false,
  ): Promise<AgentConnection> {
    const connector = this.#options.connector;
    const connect = preferredOnly && connector.connectPreferred
      ? { connect: () => connector.connectPreferred!() }
      : connector;
    return AgentConnection.open(connect, {
      deviceId: this.#options.deviceId,
      token: this.#options.token,
      metadata: { ...this.#options.metadata, ...publicKeyMetadata(e2e.key) },
      grpcTarget: this.#grpcCalls !== undefined,
    }, {
      previousConnectionId,
      registerTimeoutMs: this.#options.registerTimeoutMs ?? 10_000,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs ?? 30_000,
      signal: this.#closing.signal,
    });
  }

  /**
   * Serves a registered connection until it ends. When the connector says
   * the preferred transport works again, the session moves there (resume
   * with the same connection id) and serving continues on the new stream.
   */
  async #serve(
    e2e: DeviceE2e,
    first: AgentConnection,
  ): Promise<{ connectionId: string; error?: RelayError }> {
    let connection = first;
    let send: SendPublish | undefined;
    for (;;) {
      this.#connection = connection;
      if (send === undefined) {
        const current = connection;
        send = (publish) => current.publish(publish);
        this.#outbox.attach(send);
        this.#stats.connects++;
      }
      this.#setState({
        state: "connected",
        connectionId: connection.connectionId,
        resumed: connection.resumed,
        transport: connection.transport,
      });
      const result = await this.#pump(e2e, connection);
      const moving = typeof result === "object" && "hint" in result;
      if (result === "upgrade" || moving) {
        // A draining relay's move goes to another relay; an upgrade stays.
        if (moving) this.#options.connector.moveAway?.(result.hint);
        let moved: AgentConnection | undefined;
        // A relay that fails early is skipped by the connector: try others.
        for (
          let tries = moving ? MOVE_TRIES : 1;
          tries > 0 && !moved;
          tries--
        ) {
          moved = await this.#open(e2e, connection.connectionId, !moving)
            .catch(() => undefined);
        }
        // Not reachable after all: keep serving the current stream.
        if (moved === undefined) continue;
        // Registered: the relay now serves the session on the new stream.
        this.#outbox.detach(send);
        send = undefined;
        connection.stop();
        connection = moved;
        continue;
      }
      this.#outbox.detach(send, result);
      if (this.#closing.signal.aborted) connection.end();
      else connection.stop();
      return {
        connectionId: connection.connectionId,
        ...(result ? { error: result } : {}),
      };
    }
  }

  /**
   * Reads one connection; resolves with an error, undefined at a clean end,
   * "upgrade", or the relay's move (it drains).
   */
  async #pump(
    e2e: DeviceE2e,
    connection: AgentConnection,
  ): Promise<RelayError | undefined | "upgrade" | { hint: RelayMoveHint }> {
    const handlers = new AbortController();
    const onClose = () => handlers.abort();
    this.#closing.signal.addEventListener("abort", onClose, { once: true });
    // One wake-up promise per read: racing every read against one long-lived
    // promise would keep every message (and its payload) reachable.
    let wake = Promise.withResolvers<"upgrade">();
    let upgradeDue = false;
    this.#options.connector.preferredAvailable?.(
      connection.transport,
      handlers.signal,
    ).then(() => {
      upgradeDue = true;
      wake.resolve("upgrade");
    });
    try {
      for (;;) {
        if (upgradeDue) return "upgrade";
        wake = Promise.withResolvers<"upgrade">();
        const next = await Promise.race([connection.next(), wake.promise]);
        if (next === "upgrade") return "upgrade";
        if (next.done) return undefined;
        if (next.value.publish_ack) {
          this.#outbox.acknowledge(next.value.publish_ack);
        } else if (next.value.data_request) {
          this.#dispatcher.dispatch(next.value.data_request, {
            e2e,
            stream: connection.stream,
            signal: handlers.signal,
          });
        } else if (next.value.grpc_call) {
          this.#grpcCalls?.forward(next.value.grpc_call);
        } else if (next.value.move) {
          // Answers to requests still running are lost with this stream; the
          // relay hands the requests over and the answer cache answers them.
          return {
            hint: {
              relayAddress: next.value.move.relay_address,
              quicAddress: next.value.move.quic_address,
            },
          };
        }
      }
    } catch (error) {
      return RelayError.from(error, "UNAVAILABLE");
    } finally {
      handlers.abort();
      this.#closing.signal.removeEventListener("abort", onClose);
    }
  }

  #setState(detail: AgentStateDetail): void {
    this.#state = detail;
    for (const listener of [...this.#listeners]) listener(detail);
  }
}
