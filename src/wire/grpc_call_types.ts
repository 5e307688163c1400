// The data of a transparent gRPC call that both ends of the relay handle:
// the relay's core (src/core/grpc_call_link.ts) and the device agent's
// forwarder (src/sdk/grpc_call_forwarder.ts). Plain shapes, compatible with
// relay.v1's MetadataEntry and GrpcStatus messages.

/** One metadata value (relay.v1 MetadataEntry): "-bin" keys carry raw bytes, others UTF-8. */
export interface MetadataEntry {
  key: string;
  value: Uint8Array;
}

/** A gRPC status as the device's server gave it, passed on unchanged. */
export interface GrpcStatus {
  /** gRPC status code (0 OK ... 16 UNAUTHENTICATED). */
  code: number;
  message: string;
  trailers: MetadataEntry[];
}

/** What the controller asked for. */
export interface GrpcCallHead {
  /** Full method path, "/package.Service/Method". */
  method: string;
  /** Request metadata, minus `authorization` and `relay-*` keys. */
  metadata: MetadataEntry[];
  /** Unix millis of the controller's deadline; undefined for none. */
  deadline: number | undefined;
}

/**
 * One outgoing call, bytes through, as a gRPC client sees it: the device
 * agent's call to the device's own server, and a relay's call to the relay
 * of its cluster that holds the device.
 */
export interface GrpcClientCall {
  /** The response headers; null when the status came without them. */
  readonly headers: Promise<MetadataEntry[] | null>;
  /** Response messages, pulled one at a time; ends before the status. */
  readonly messages: AsyncIterable<Uint8Array>;
  /** The final status and trailers (failures to reach the server included). */
  readonly status: Promise<GrpcStatus>;
  /** One request message; resolves when the transport took it (backpressure). */
  send(message: Uint8Array): Promise<void>;
  /** No more request messages. */
  halfClose(): void;
  /** Cancels the call (the server's handler sees the cancellation). */
  cancel(): void;
}

/** Request metadata keys that never reach the device. */
export function isRelayOnlyMetadata(key: string): boolean {
  return key === "authorization" || key.startsWith("relay-");
}
