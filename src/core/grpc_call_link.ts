// Transparent gRPC calls: the two ends the core joins. A transport adapter
// turns an ordinary gRPC call that names a device (metadata
// `relay-device-id`) into a GrpcCallLink; the device answers the relay's
// GrpcCallStart with a GRPC_CALL tunnel, which the tunnel service hands over
// as a CallTunnel. The core checks who may call, then copies messages both
// ways, each side waiting for the other (flow control end to end).
import type { RelayError } from "../errors/relay_error.ts";
import type { Peer } from "./gatekeeper.ts";
import type { TunnelFrame, TunnelFrame__Output } from "./messages.ts";

import type {
  GrpcCallHead,
  GrpcStatus,
  MetadataEntry,
} from "../wire/grpc_call_types.ts";

export type { GrpcCallHead, GrpcStatus, MetadataEntry };
export { isRelayOnlyMetadata } from "../wire/grpc_call_types.ts";

/** The controller's side of one transparent call. */
export interface GrpcCallLink extends Peer {
  /** Bearer token from `authorization` metadata, "" when none was sent. */
  readonly bearerToken: string;
  /** The `relay-device-id` metadata value, "" when none was sent. */
  readonly deviceId: string;
  /** Id of the relay of the cluster that forwarded this call here, if one did. */
  readonly forwardedBy?: string | undefined;
  readonly head: GrpcCallHead;
  /** The controller's messages, pulled one at a time; ends at its half-close. */
  readonly messages: AsyncIterable<Uint8Array>;
  /** Aborted when the controller cancels, its deadline passes or its stream is gone. */
  readonly signal: AbortSignal;
  /** Response headers; only before the first message. */
  sendHeaders(headers: MetadataEntry[]): void;
  /** One response message; resolves when the transport took it (backpressure). */
  send(message: Uint8Array): Promise<void>;
  /** Ends the call with the device server's status and trailers. */
  finish(status: GrpcStatus): void;
  /** Ends the call with the relay's own error (the adapter maps its code). */
  fail(error: RelayError): void;
}

/** The device's GRPC_CALL tunnel, after its `open` frame. */
export interface CallTunnel {
  readonly deviceId: string;
  /** The GrpcCallStart.call_id its open frame named. */
  readonly callId: string;
  /** Frames from the device, pulled on demand. */
  readonly frames: AsyncIterator<TunnelFrame__Output>;
  send(frame: TunnelFrame): Promise<void>;
  /** Aborted when the tunnel must end: stream gone, credential revoked, shutdown. */
  readonly signal: AbortSignal;
}
