// A relay.v1 stream on the relay's side once its StreamOpen frame is read:
// what every handler of a stream kind (stream_handlers.ts) is given.
import type { RelayCore } from "../../src/core/relay_core.ts";
import { RelayError } from "../../src/errors/relay_error.ts";
import type { StreamOpen__Output as StreamOpen } from "../../src/gen/relay/v1/StreamOpen.ts";
import { withDeadline } from "../../src/limits/deadline.ts";
import type { FrameReader } from "./frame_stream.ts";
import type { QuicStreamLinkOptions } from "./quic_stream_link.ts";
import { relayCodecs } from "./relay_codec.ts";

export interface OpenedStream {
  core: RelayCore;
  open: StreamOpen;
  /** All a link on this stream needs but its codecs and error frame (frames past StreamOpen). */
  link: Omit<
    QuicStreamLinkOptions<unknown, unknown>,
    "decode" | "encode" | "inBandError"
  >;
}

/** The stream's StreamOpen frame, which must come within `timeoutMs`. */
export async function readStreamOpen(
  frames: FrameReader,
  timeoutMs: number,
): Promise<StreamOpen> {
  const frame = await withDeadline(frames.next(), timeoutMs, {
    onTimeout: () =>
      new RelayError(
        "UNAUTHORIZED",
        "no StreamOpen frame within the handshake timeout",
      ),
  });
  if (frame === undefined) {
    throw new RelayError("INVALID_REQUEST", "stream ended before StreamOpen");
  }
  try {
    return relayCodecs.open.decode(frame);
  } catch (error) {
    throw new RelayError("INVALID_REQUEST", "malformed StreamOpen frame", {
      cause: error,
    });
  }
}
