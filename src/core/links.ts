// What the core needs from a transport. An adapter turns one device stream,
// one controller stream or one tunnel stream into a link; the core drives the
// protocol.
import type { RelayError } from "../errors/relay_error.ts";
import type {
  ControllerMessage,
  DeviceMessage,
  DeviceResponse,
  RelayMessage,
  TunnelFrame,
  TunnelFrame__Output,
} from "./messages.ts";

export interface DeviceLink {
  /** Short transport name shown in device info and metrics ("h2", "quic"). */
  readonly transport: string;
  readonly remoteAddress: string;
  /** Inbound messages; ends on the peer's half-close, throws on transport failure. */
  readonly messages: AsyncIterable<DeviceMessage>;
  /** Aborted when the transport stream is gone, for whatever reason. */
  readonly signal: AbortSignal;
  /** Resolves when the transport accepted the message (backpressure). */
  send(message: RelayMessage): Promise<void>;
  /** Ends the stream: cleanly without an error, else with the error's code. */
  close(error?: RelayError): void;
}

export interface ControllerLink {
  readonly transport: string;
  readonly remoteAddress: string;
  /** Bearer token from stream metadata, "" when none was sent. */
  readonly bearerToken: string;
  readonly messages: AsyncIterable<ControllerMessage>;
  readonly signal: AbortSignal;
  send(response: DeviceResponse): Promise<void>;
  close(error?: RelayError): void;
}

/**
 * One tunnel stream (an OpenTunnel call over HTTP/2, a TUNNEL stream over
 * QUIC) as a link of relay.v1 TunnelFrame messages.
 */
export interface TunnelLink {
  /** Short transport name ("h2", "quic"). */
  readonly transport: string;
  readonly remoteAddress: string;
  /** Inbound frames; ends on the device's half-close, throws on transport failure. */
  readonly messages: AsyncIterable<TunnelFrame__Output>;
  /** Aborted when the transport stream is gone, for whatever reason. */
  readonly signal: AbortSignal;
  /** Resolves when the transport accepted the frame (backpressure). */
  send(frame: TunnelFrame): Promise<void>;
  /**
   * Ends the stream: cleanly without an error, else with the error's code
   * (the tunnel service has sent the `error` frame already; the adapter adds
   * only what its wire format needs, e.g. a gRPC status).
   */
  close(error?: RelayError): void;
}
