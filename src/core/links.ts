// What the core needs from a transport. An adapter turns one device stream,
// one controller stream or one tunnel stream into a link; the core drives the
// protocol.
//
// One error contract for every link: the core ends a link with `close()` (a
// clean end) or `close(error)`, and never writes an error message or frame
// itself. The adapter alone turns the error into its wire format:
// - DeviceLink: a RelayMessage `error` (code and message), then the end (over
//   HTTP/2 the gRPC status follows it), so a device can tell "bad token" from
//   "network down";
// - TunnelLink: a TunnelFrame `error`, then the end (HTTP/2: and the status);
// - ControllerLink: the gRPC status over HTTP/2; over QUIC a final
//   ControllerStreamFrame `error`, then the end.
// An error with code OK is a clean end. The first close wins, later ones do
// nothing; on a stream that is gone already nobody is left to tell, and close
// only releases it.
import type { ErrorCode, RelayError } from "../errors/relay_error.ts";
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
  /** Ends the stream: cleanly without an error, else with a RelayMessage `error` first. */
  close(error?: RelayError): void;
}

export interface ControllerLink {
  readonly transport: string;
  readonly remoteAddress: string;
  /** Bearer token from stream metadata, "" when none was sent. */
  readonly bearerToken: string;
  /**
   * W3C traceparent from the stream's metadata ("" when none): the parent of
   * the stream's requests that carry no traceparent of their own.
   */
  readonly traceparent: string;
  readonly messages: AsyncIterable<ControllerMessage>;
  readonly signal: AbortSignal;
  send(response: DeviceResponse): Promise<void>;
  /** Ends the stream: cleanly without an error, else with the error as its status. */
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
  /** Ends the stream: cleanly without an error, else with an `error` frame first. */
  close(error?: RelayError): void;
}

/**
 * The in-band form of an error, the same on every relay.v1 stream
 * (RelayMessage, TunnelFrame and ControllerStreamFrame all carry `error`);
 * undefined for a clean end.
 */
export function inBandError(
  error: RelayError | undefined,
): { error: { code: ErrorCode; message: string } } | undefined {
  if (error === undefined || error.code === "OK") return undefined;
  return { error: { code: error.code, message: error.message } };
}
