// A device driven message by message over the real gRPC transport, for tests
// that need to stay silent, drop the transport or answer by hand.
import type {
  ClientStream,
  DeviceMessage,
  RelayMessage,
} from "../src/sdk/connector.ts";
import { deviceConnector } from "../mod.ts";
import type { TestRelay } from "./harness.ts";
import { type ErrorCode, RelayError } from "../src/errors/relay_error.ts";

export interface RawDevice {
  stream: ClientStream<DeviceMessage, RelayMessage>;
  /** The first answer of the relay (register_response or error). */
  first: RelayMessage;
  connectionId: string;
  /** Next message from the relay; rejects when the stream fails. */
  next(): Promise<IteratorResult<RelayMessage>>;
  heartbeat(): Promise<void>;
  /** Answers a data request with `payload` (or an error code). */
  answer(
    request: NonNullable<RelayMessage["data_request"]>,
    payload: Uint8Array,
  ): Promise<void>;
  /** Simulates a transport drop (no graceful half-close). */
  drop(): void;
}

export interface RawDeviceOptions {
  previousConnectionId?: string;
  /** Register metadata (e.g. an E2E key the raw device then ignores). */
  metadata?: Record<string, string>;
  /** Registers as taking transparent gRPC calls. */
  grpcTarget?: boolean;
}

export async function rawDevice(
  t: TestRelay,
  deviceId: string,
  credential: string,
  /** The previous connection id to resume, or options. */
  resume: string | RawDeviceOptions = "",
): Promise<RawDevice> {
  const options = typeof resume === "string"
    ? { previousConnectionId: resume }
    : resume;
  const connector = deviceConnector(t.clientOptions);
  const stream = connector.connect();
  const inbound = stream.messages[Symbol.asyncIterator]();
  await stream.send({
    device_id: deviceId,
    token: credential,
    register: {
      device_id: deviceId,
      metadata: options.metadata ?? {},
      previous_connection_id: options.previousConnectionId ?? "",
      grpc_target: options.grpcTarget ?? false,
    },
  });
  const first = await inbound.next();
  if (first.done) throw new Error("relay closed the stream during register");
  const connectionId = first.value.register_response?.connection_id ?? "";
  return {
    stream,
    first: first.value,
    connectionId,
    next: () => inbound.next(),
    heartbeat: () =>
      stream.send({
        device_id: deviceId,
        heartbeat: { connection_id: connectionId, timestamp: Date.now() },
      }),
    answer: (request, payload) =>
      stream.send({
        device_id: deviceId,
        data: {
          connection_id: request.connection_id,
          sequence_number: request.sequence_number,
          encrypted_payload: payload,
          error: "OK",
          error_message: "",
        },
      }),
    drop() {
      stream.abort();
      connector.close();
    },
  };
}

/** Reads relay messages until a data request arrives. */
export async function nextDataRequest(device: RawDevice) {
  for (;;) {
    const message = await device.next();
    if (message.done) throw new Error("stream ended before a data request");
    if (message.value.data_request) return message.value.data_request;
  }
}

/**
 * Reads until the relay ends the stream; rejects with the error it closed
 * the stream with (a gRPC status, or an in-band RelayMessage.error on QUIC).
 */
export async function readUntilClosed(device: RawDevice): Promise<void> {
  for (;;) {
    const message = await device.next();
    if (message.done) return;
    const error = message.value.error;
    if (error) throw new RelayError(error.code as ErrorCode, error.message);
  }
}
