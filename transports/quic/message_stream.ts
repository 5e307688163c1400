// relay.v1 messages on one QUIC or WebTransport bidirectional stream, as
// length-prefixed frames: what the relay's stream links (quic_stream_link.ts)
// and the clients' streams (quic_client_stream.ts) both read, write and end
// through. Errors are the caller's to translate: each side tells its own
// peer's failures apart.
import type { StreamOpen } from "../../src/gen/relay/v1/StreamOpen.ts";
import type { FrameReader } from "./frame_stream.ts";
import { type MessageCodec, relayCodecs } from "./relay_codec.ts";

export interface BidirectionalStream {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

export interface MessageStreamOptions<In, Out> {
  /** The stream's frames (on the relay, read past StreamOpen already). */
  frames: FrameReader;
  /** Turns one frame into a message; what it throws ends the reading. */
  decode: (frame: Uint8Array) => In;
  encode: MessageCodec<Out, unknown>;
}

export class MessageStream<In, Out> {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #frames: FrameReader;
  readonly #decode: (frame: Uint8Array) => In;
  readonly #encode: MessageCodec<Out, unknown>;

  constructor(
    stream: BidirectionalStream,
    options: MessageStreamOptions<In, Out>,
  ) {
    this.#writer = stream.writable.getWriter();
    this.#frames = options.frames;
    this.#decode = options.decode;
    this.#encode = options.encode;
  }

  /** The peer's messages, until its FIN. */
  async *messages(): AsyncGenerator<In> {
    for (
      let frame = await this.#frames.next();
      frame !== undefined;
      frame = await this.#frames.next()
    ) {
      yield this.#decode(frame);
    }
  }

  /** Starts the stream: every relay.v1 stream opens with a StreamOpen frame. */
  writeOpen(open: StreamOpen): Promise<void> {
    return this.#writer.write(relayCodecs.open.frame(open));
  }

  /** Resolves once the frame is written (the stream's backpressure). */
  write(message: Out): Promise<void> {
    return this.#writer.write(this.#encode.frame(message));
  }

  /** Sends FIN, after `last` (an error frame, say) when given; reading goes on. */
  async end(last?: Out): Promise<void> {
    if (last !== undefined) await this.write(last);
    await this.#writer.close();
  }

  /** Discards what the peer still sends. */
  stopReading(): Promise<void> {
    return this.#frames.cancel();
  }

  /** Resets both directions now. */
  abort(): void {
    this.#writer.abort().catch(() => undefined);
    this.#frames.cancel();
  }
}
