// One QUIC (or WebTransport) bidirectional stream as the relay core's typed
// message link: frames decoded lazily, writes awaited for backpressure, one
// AbortSignal for the stream's end whatever its cause. QUIC has no status
// trailer: close(error) writes the error as the stream's last frame.
import { RelayError } from "../../src/errors/relay_error.ts";
import type { FrameReader } from "./frame_stream.ts";
import { type BidirectionalStream, MessageStream } from "./message_stream.ts";
import type { MessageCodec } from "./relay_codec.ts";

export interface QuicStreamLink<In, Out> {
  readonly transport: "quic";
  readonly remoteAddress: string;
  readonly messages: AsyncIterable<In>;
  readonly signal: AbortSignal;
  send(message: Out): Promise<void>;
  /** Ends the stream (FIN); an error goes first as the kind's error frame. */
  close(error?: RelayError): void;
}

export interface QuicStreamLinkOptions<In, Out> {
  stream: BidirectionalStream;
  /** Reader positioned after the stream's StreamOpen frame. */
  frames: FrameReader;
  decode: MessageCodec<unknown, In>;
  encode: MessageCodec<Out, unknown>;
  /** The frame that carries an error (undefined for a clean end). */
  inBandError: (error: RelayError) => Out | undefined;
  remoteAddress: string;
  /** Aborted when the whole connection goes away. */
  connectionSignal: AbortSignal;
  /** Told about every stream end in progress, so shutdown can let it flush. */
  trackClose?: (flushed: Promise<void>) => void;
}

export function quicStreamLink<In, Out>(
  options: QuicStreamLinkOptions<In, Out>,
): QuicStreamLink<In, Out> {
  const stream = new MessageStream<In, Out>(options.stream, {
    frames: options.frames,
    decode: refusingMalformed(options.decode),
    encode: options.encode,
  });
  const aborter = new AbortController();
  // `closed`: no more writes (our close, or the connection is gone). A read
  // failure only ends the signal, so close can still write the error frame
  // and end the stream properly.
  let closed = false;
  const end = (reason: RelayError) => {
    if (!aborter.signal.aborted) aborter.abort(reason);
  };
  const onConnectionEnd = () => {
    closed = true;
    end(
      new RelayError("UNAVAILABLE", "QUIC connection closed", {
        source: "downstream",
      }),
    );
  };
  if (options.connectionSignal.aborted) onConnectionEnd();
  else {options.connectionSignal.addEventListener("abort", onConnectionEnd, {
      once: true,
    });}
  aborter.signal.addEventListener("abort", () => {
    options.connectionSignal.removeEventListener("abort", onConnectionEnd);
  });

  async function* messages(): AsyncGenerator<In> {
    try {
      yield* stream.messages();
      // The peer's FIN is a clean end; our own close is not the peer's doing.
      if (closed) {
        throw aborter.signal.reason ??
          new RelayError("CANCELLED", "stream closed");
      }
    } catch (error) {
      const relayError = error instanceof RelayError
        ? error
        : new RelayError("UNAVAILABLE", "QUIC stream failed", {
          source: "downstream",
          cause: error,
        });
      end(relayError);
      throw relayError;
    }
  }

  return {
    transport: "quic",
    remoteAddress: options.remoteAddress,
    messages: messages(),
    signal: aborter.signal,
    async send(message: Out): Promise<void> {
      if (closed) throw new RelayError("CANCELLED", "stream is closed");
      try {
        await stream.write(message);
      } catch (error) {
        closed = true; // the write side is broken for good
        end(
          new RelayError("UNAVAILABLE", "QUIC stream write failed", {
            cause: error,
          }),
        );
        throw new RelayError("CANCELLED", "stream closed while writing", {
          cause: error,
        });
      }
    },
    close(error?: RelayError): void {
      if (closed) return;
      closed = true;
      const last = error === undefined ? undefined : options.inBandError(error);
      const flushed = stream.end(last).catch(() => {
        // The peer is gone already; there is nobody to tell.
      }).finally(() => {
        stream.stopReading();
        end(new RelayError("CANCELLED", "stream closed"));
      });
      options.trackClose?.(flushed);
    },
  };
}

/** A decoder whose failure is the peer's malformed frame. */
function refusingMalformed<In>(
  codec: MessageCodec<unknown, In>,
): (frame: Uint8Array) => In {
  return (frame) => {
    try {
      return codec.decode(frame);
    } catch (error) {
      throw new RelayError("INVALID_REQUEST", "malformed protobuf frame", {
        source: "downstream",
        cause: error,
      });
    }
  };
}
