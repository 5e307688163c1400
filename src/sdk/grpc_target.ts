// The device's own gRPC server, as the agent's transparent-call forwarder
// sees it: a port the HTTP/2 transport implements with grpc-js
// (transports/grpc/grpc_target_client.ts), so the SDK never imports it.
import type {
  GrpcCallHead,
  GrpcStatus,
  MetadataEntry,
} from "../wire/grpc_call_types.ts";

export type { GrpcCallHead, GrpcStatus, MetadataEntry };

export interface GrpcTarget {
  /** host:port of the local server, for messages. */
  readonly address: string;
  /** Starts one call (any method, bytes through). */
  call(head: GrpcCallHead): LocalGrpcCall;
  close(): void;
}

/** One call on the local server. */
export interface LocalGrpcCall {
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
