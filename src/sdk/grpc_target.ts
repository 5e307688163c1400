// The device's own gRPC server, as the agent's transparent-call forwarder
// sees it: a port the HTTP/2 transport implements with grpc-js
// (transports/grpc/grpc_target_client.ts), so the SDK never imports it.
import type {
  GrpcCallHead,
  GrpcClientCall,
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
export type LocalGrpcCall = GrpcClientCall;
