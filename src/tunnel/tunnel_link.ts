// What the tunnel core needs from a transport: one tunnel stream (an
// OpenTunnel call over HTTP/2, a TUNNEL stream over QUIC) as a link of
// relay.v1 TunnelFrame messages.
import type { RelayError } from "../errors/relay_error.ts";
import type { TunnelFrame } from "../gen/relay/v1/TunnelFrame.ts";
import type { TunnelFrame__Output } from "../gen/relay/v1/TunnelFrame.ts";
import type { TunnelKind__Output } from "../gen/relay/v1/TunnelKind.ts";

export type { TunnelFrame, TunnelFrame__Output };
export type TunnelKind = TunnelKind__Output;

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
   * (the core has sent the `error` frame already; the adapter adds only what
   * its wire format needs, e.g. a gRPC status).
   */
  close(error?: RelayError): void;
}
