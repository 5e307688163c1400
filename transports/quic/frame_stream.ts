// Length-prefixed frames on a QUIC stream: a 4-byte big-endian length, then
// that many bytes. The length is checked against the maximum before any
// buffer for the frame is allocated.
import { RelayError } from "../../src/errors/relay_error.ts";

const HEADER_BYTES = 4;

export function encodeFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(HEADER_BYTES + payload.byteLength);
  new DataView(frame.buffer).setUint32(0, payload.byteLength);
  frame.set(payload, HEADER_BYTES);
  return frame;
}

export class FrameReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #maxFrameBytes: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;

  constructor(readable: ReadableStream<Uint8Array>, maxFrameBytes: number) {
    this.#reader = readable.getReader();
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** The next frame's payload, or undefined at a clean end of stream. */
  async next(): Promise<Uint8Array | undefined> {
    if (!await this.#fill(HEADER_BYTES)) return undefined;
    const header = this.#peek(HEADER_BYTES);
    const length = new DataView(header.buffer, header.byteOffset, HEADER_BYTES)
      .getUint32(0);
    if (length > this.#maxFrameBytes) {
      throw new RelayError(
        "INVALID_REQUEST",
        `frame of ${length} bytes exceeds the maximum of ${this.#maxFrameBytes}`,
        { source: "downstream" },
      );
    }
    if (!await this.#fill(HEADER_BYTES + length)) {
      throw new RelayError("INVALID_REQUEST", "stream ended inside a frame", {
        source: "downstream",
      });
    }
    this.#take(HEADER_BYTES);
    return this.#take(length);
  }

  async cancel(reason?: unknown): Promise<void> {
    await this.#reader.cancel(reason).catch(() => {
      // Already closed or errored: nothing left to cancel.
    });
  }

  /** Reads until `bytes` are buffered; false when the stream ends first at a frame boundary. */
  async #fill(bytes: number): Promise<boolean> {
    while (this.#buffered < bytes) {
      const { value, done } = await this.#reader.read();
      if (done) {
        if (this.#buffered === 0) return false;
        throw new RelayError("INVALID_REQUEST", "stream ended inside a frame", {
          source: "downstream",
        });
      }
      if (value.byteLength === 0) continue;
      this.#chunks.push(value);
      this.#buffered += value.byteLength;
    }
    return true;
  }

  #peek(bytes: number): Uint8Array {
    const first = this.#chunks[0]!;
    if (first.byteLength >= bytes) return first.subarray(0, bytes);
    return this.#copy(bytes, false);
  }

  #take(bytes: number): Uint8Array {
    const first = this.#chunks[0];
    if (first !== undefined && first.byteLength >= bytes) {
      const taken = first.subarray(0, bytes);
      if (first.byteLength === bytes) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(bytes);
      this.#buffered -= bytes;
      return taken;
    }
    return this.#copy(bytes, true);
  }

  #copy(bytes: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(bytes);
    let offset = 0;
    let index = 0;
    while (offset < bytes) {
      const chunk = this.#chunks[index]!;
      const part = chunk.subarray(
        0,
        Math.min(chunk.byteLength, bytes - offset),
      );
      out.set(part, offset);
      offset += part.byteLength;
      if (consume) {
        if (part.byteLength === chunk.byteLength) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(part.byteLength);
      } else {
        index++;
      }
    }
    if (consume) this.#buffered -= bytes;
    return out;
  }
}
