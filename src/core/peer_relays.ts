// The relays of the cluster as the core reaches them for transparent calls:
// a call for a device another relay holds is made again, whole, on that
// relay's gRPC port (transports/grpc/peer_relay_channels.ts implements it
// over one HTTP/2 connection per peer relay).
import type { GrpcCallHead, GrpcClientCall } from "../wire/grpc_call_types.ts";

/** A transparent call as this relay forwards it to the holder. */
export interface ForwardedCall {
  /** gRPC address (host:port) of the relay that holds the device. */
  address: string;
  deviceId: string;
  /** The caller's token: the holder authenticates the call itself. */
  bearerToken: string;
  /** The caller's method, metadata (relay-only keys removed) and deadline. */
  head: GrpcCallHead;
}

export interface PeerRelays {
  /** Starts the call on the holder; its status says how it ended (hop failures included). */
  call(call: ForwardedCall): GrpcClientCall;
}
