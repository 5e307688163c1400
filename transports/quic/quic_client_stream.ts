// One relay.v1 QUIC stream as the SDK's ClientStream: opened once its
// connection is up, started with StreamOpen, failures reported as the
// relay's (upstream) RelayErrors.
import { RelayError } from "../../src/errors/relay_error.ts";
import type { ControllerStreamFrame__Output } from "../../src/gen/relay/v1/ControllerStreamFrame.ts";
import type { StreamOpen } from "../../src/gen/relay/v1/StreamOpen.ts";
import type { ClientStream } from "../../src/sdk/connector.ts";
import { FrameReader } from "./frame_stream.ts";
import { type BidirectionalStream, MessageStream } from "./message_stream.ts";
import { type MessageCodec, relayCodecs } from "./relay_codec.ts";

const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;

export interface QuicClientStreamOptions<Out, In> {
  /** The stream, once its connection is up. */
  stream: Promise<BidirectionalStream>;
  /** Its first frame: what the stream carries, and the controller's bearer. */
  open: StreamOpen;
  encode: MessageCodec<Out, unknown>;
  /** A frame's message, or undefined for one the caller skips. */
  decode: (frame: Uint8Array) => In | undefined;
  maxFrameBytes?: number | undefined;
  /** Runs when the stream is aborted. */
  onAbort?: () => void;
}

export function quicClientStream<Out, In>(
  options: QuicClientStreamOptions<Out, In>,
): ClientStream<Out, In> {
  const opened = options.stream.then(async (bidi) => {
    const stream = new MessageStream<In | undefined, Out>(bidi, {
      frames: new FrameReader(
        bidi.readable,
        options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      ),
      decode: options.decode,
      encode: options.encode,
    });
    await stream.writeOpen(options.open);
    return stream;
  });
  const ready = opened.then(() => undefined);
  ready.catch(() => {
    // Reported to whoever sends or reads.
  });
  return {
    transport: "quic",
    ready,
    messages: {
      async *[Symbol.asyncIterator]() {
        try {
          const stream = await opened;
          for await (const message of stream.messages()) {
            if (message !== undefined) yield message;
          }
        } catch (error) {
          throw failed(error);
        }
      },
    },
    async send(message: Out): Promise<void> {
      try {
        const stream = await opened;
        await stream.write(message);
      } catch (error) {
        throw failed(error);
      }
    },
    end(): void {
      opened.then((stream) => stream.end()).catch(() => {
        // Already failed or closed.
      });
    },
    abort(): void {
      opened.then((stream) => stream.abort()).catch(() => undefined);
      options.onAbort?.();
    },
  };
}

/**
 * Decodes the frames of a controller stream (ControllerStreamFrame): `pick`
 * chooses what the caller reads; an error frame ends the stream.
 */
export function controllerFrames<T>(
  pick: (frame: ControllerStreamFrame__Output) => T | undefined,
): (bytes: Uint8Array) => T | undefined {
  return (bytes) => {
    const frame = relayCodecs.controllerFrame.decode(bytes);
    if (frame.error) {
      throw new RelayError(
        frame.error.code as RelayError["code"],
        frame.error.message,
        { source: "upstream" },
      );
    }
    return pick(frame);
  };
}

function failed(error: unknown): RelayError {
  return error instanceof RelayError ? error : new RelayError(
    "UNAVAILABLE",
    `QUIC stream failed: ${(error as Error)?.message ?? error}`,
    {
      source: "upstream",
      cause: error,
    },
  );
}
