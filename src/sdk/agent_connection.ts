// One registered device stream: sends register, waits for the relay's
// answer (or its explicit error), then heartbeats until stopped.
import { type ErrorCode, RelayError } from "../errors/relay_error.ts";
import type {
  ClientStream,
  DeviceConnector,
  DeviceMessage,
  RelayMessage,
} from "./connector.ts";
import { withDeadline } from "../limits/deadline.ts";

export interface DeviceIdentity {
  deviceId: string;
  token: string;
  metadata: Record<string, string>;
  /** The agent forwards transparent gRPC calls to a server of its own. */
  grpcTarget: boolean;
}

export interface OpenOptions {
  previousConnectionId: string;
  registerTimeoutMs: number;
  /** Used when the relay does not announce an interval. */
  heartbeatIntervalMs: number;
  /** Cancels the attempt (the agent is closing). */
  signal: AbortSignal;
}

/** On top of two heartbeat intervals, before a silent relay counts as gone. */
const SILENCE_GRACE_MS = 2000;

export class AgentConnection {
  readonly stream: ClientStream<DeviceMessage, RelayMessage>;
  readonly connectionId: string;
  readonly resumed: boolean;
  readonly #inbound: AsyncIterator<RelayMessage>;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  readonly #deviceId: string;
  #lastHeardAt = Date.now();

  private constructor(
    stream: ClientStream<DeviceMessage, RelayMessage>,
    inbound: AsyncIterator<RelayMessage>,
    registered: NonNullable<RelayMessage["register_response"]>,
    identity: DeviceIdentity,
    fallbackIntervalMs: number,
  ) {
    this.stream = stream;
    this.#inbound = inbound;
    this.#deviceId = identity.deviceId;
    this.connectionId = registered.connection_id;
    this.resumed = registered.session_resumed;
    const intervalMs = registered.heartbeat_interval_ms || fallbackIntervalMs;
    this.#heartbeat = setInterval(() => {
      // The relay answers every heartbeat. Silence for two intervals means
      // the relay or the path is gone, which a transport may take far longer
      // to notice (a killed relay sends no QUIC close; its restarted
      // successor cannot reset the old connection): reconnect now.
      if (Date.now() - this.#lastHeardAt > 2 * intervalMs + SILENCE_GRACE_MS) {
        this.stop();
        return;
      }
      stream.send({
        device_id: identity.deviceId,
        heartbeat: { connection_id: this.connectionId, timestamp: Date.now() },
      }).catch(() => {
        // The stream is failing; the reader sees that and reconnects.
      });
    }, intervalMs);
  }

  get transport(): string {
    return this.stream.transport;
  }

  /** Connects and registers; throws the relay's RelayError when refused. */
  static async open(
    connector: Pick<DeviceConnector, "connect">,
    identity: DeviceIdentity,
    options: OpenOptions,
  ): Promise<AgentConnection> {
    const stream = connector.connect();
    const inbound = stream.messages[Symbol.asyncIterator]();
    const cancel = () => stream.abort();
    options.signal.addEventListener("abort", cancel, { once: true });
    try {
      if (options.signal.aborted) {
        throw new RelayError("CANCELLED", "agent is closing");
      }
      await stream.send({
        device_id: identity.deviceId,
        token: identity.token,
        register: {
          device_id: identity.deviceId,
          metadata: identity.metadata,
          previous_connection_id: options.previousConnectionId,
          grpc_target: identity.grpcTarget,
        },
      });
      const first = await withDeadline(
        inbound.next(),
        options.registerTimeoutMs,
        {
          onTimeout: () =>
            new RelayError("DEADLINE_EXCEEDED", "register timed out"),
        },
      );
      if (first.done) {
        throw new RelayError(
          "UNAVAILABLE",
          "relay closed the stream during register",
        );
      }
      const message = first.value;
      if (message.error) throw relayError(message.error);
      if (!message.register_response) {
        throw new RelayError("INTERNAL_ERROR", "relay did not answer register");
      }
      return new AgentConnection(
        stream,
        inbound,
        message.register_response,
        identity,
        options.heartbeatIntervalMs,
      );
    } catch (error) {
      stream.abort();
      throw RelayError.from(error, "UNAVAILABLE");
    } finally {
      options.signal.removeEventListener("abort", cancel);
    }
  }

  /** The next message; done at the relay's clean end; throws on failure. */
  async next(): Promise<IteratorResult<RelayMessage>> {
    const result = await this.#inbound.next();
    this.#lastHeardAt = Date.now();
    if (!result.done && result.value.error) {
      throw relayError(result.value.error);
    }
    return result;
  }

  /** Sends one publication; the relay answers with a PublishAck when its id is not 0. */
  publish(publish: NonNullable<DeviceMessage["publish"]>): Promise<void> {
    return this.stream.send({ device_id: this.#deviceId, publish });
  }

  /** Graceful end: the relay reports the device offline at once. */
  end(): void {
    clearInterval(this.#heartbeat);
    this.stream.end();
  }

  /** Drops the stream (after a handover, or when it failed). */
  stop(): void {
    clearInterval(this.#heartbeat);
    this.stream.abort();
  }
}

function relayError(error: { code: string; message: string }): RelayError {
  return new RelayError(error.code as ErrorCode, error.message, {
    source: "upstream",
  });
}
