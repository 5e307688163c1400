// Length-prefixed frames on a QUIC stream: a 4-byte big-endian length, then
// that many bytes (browser/relay_wire.js defines the header). The length is checked against the maximum before any
// buffer for the frame is allocated.
//
// Byte streams are read into buffers of our own size: a default reader has
// Deno allocate 64 KiB for every pending read, so each idle device stream
// held 64 KiB (half the relay's memory per QUIC connection). An idle stream
// now waits with 512 bytes (a heartbeat fits); inside a large frame reads
// grow to what the frame still needs, 64 KiB at most; and while reads come
// back full (pipelined frames queued behind each other) each next read is
// four times larger, up to 64 KiB, back to 512 bytes once one is not: a
// burst of small frames costs a few reads, not one per 512 bytes (the relay
// spent a third more CPU per request on QUIC once E2E made a 64 B request a
// 170 B frame, `deno task bench --only e2e`). A frame up to 128 KiB
// is read straight into its own buffer (no joining copy); a longer one in
// 64 KiB reads, so a claimed length never allocates more than that ahead of
// the bytes that arrive.
import { RelayError } from "../../src/errors/relay_error.ts";
import { FRAME_HEADER_BYTES, sealFrame } from "./browser/relay_wire.js";

const HEADER_BYTES = FRAME_HEADER_BYTES;
const IDLE_READ_BYTES = 512;
const MAX_READ_BYTES = 64 * 1024;
const MAX_DIRECT_FRAME_BYTES = 2 * MAX_READ_BYTES;

export function encodeFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(HEADER_BYTES + payload.byteLength);
  frame.set(payload, HEADER_BYTES);
  return sealFrame(frame);
}

export class FrameReader {
  readonly #reader:
    | ReadableStreamDefaultReader<Uint8Array>
    | ReadableStreamBYOBReader;
  readonly #maxFrameBytes: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  /** Size of the next read when a frame needs less: grows while reads come back full. */
  #readBytes = IDLE_READ_BYTES;

  constructor(readable: ReadableStream<Uint8Array>, maxFrameBytes: number) {
    this.#reader = byobReader(readable) ?? readable.getReader();
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
    if (
      this.#reader instanceof ReadableStreamBYOBReader &&
      this.#buffered < HEADER_BYTES + length &&
      length <= MAX_DIRECT_FRAME_BYTES
    ) {
      this.#take(HEADER_BYTES);
      return await this.#readInto(length, this.#reader);
    }
    if (!await this.#fill(HEADER_BYTES + length)) throw endedInsideFrame();
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
      const { value, done, requested } = await this.#read(
        bytes - this.#buffered,
      );
      if (requested !== undefined) {
        // Full: more is queued behind it. Short: the stream caught up.
        this.#readBytes = value?.byteLength === requested
          ? Math.min(MAX_READ_BYTES, this.#readBytes * 4)
          : IDLE_READ_BYTES;
      }
      if (done) {
        if (this.#buffered === 0) return false;
        throw endedInsideFrame();
      }
      if (value.byteLength === 0) continue;
      this.#chunks.push(value);
      this.#buffered += value.byteLength;
    }
    return true;
  }

  /** The rest of a `length`-byte frame, read into one buffer that starts with what is buffered. */
  async #readInto(
    length: number,
    reader: ReadableStreamBYOBReader,
  ): Promise<Uint8Array> {
    let frame = new Uint8Array(length);
    let filled = this.#buffered;
    frame.set(this.#take(filled));
    while (filled < length) {
      // BYOB reads transfer the buffer: go on with the one handed back.
      const { value, done } = await reader.read(
        new Uint8Array(frame.buffer, filled, length - filled),
      );
      if (done || value === undefined) throw endedInsideFrame();
      frame = new Uint8Array(value.buffer);
      filled += value.byteLength;
    }
    return frame;
  }

  /**
   * One read; a BYOB read asks for what the frame still needs, or more while
   * reads come back full, within bounds (`requested`: the size asked for).
   */
  async #read(
    missing: number,
  ): Promise<ReadableStreamReadResult<Uint8Array> & { requested?: number }> {
    if (this.#reader instanceof ReadableStreamDefaultReader) {
      return await this.#reader.read();
    }
    const requested = Math.min(
      MAX_READ_BYTES,
      Math.max(this.#readBytes, missing),
    );
    return {
      ...await this.#reader.read(new Uint8Array(requested)),
      requested,
    };
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

function endedInsideFrame(): RelayError {
  return new RelayError("INVALID_REQUEST", "stream ended inside a frame", {
    source: "downstream",
  });
}

/** A BYOB reader when `readable` is a byte stream (QUIC streams are), else undefined. */
function byobReader(
  readable: ReadableStream<Uint8Array>,
): ReadableStreamBYOBReader | undefined {
  try {
    return readable.getReader({ mode: "byob" });
  } catch {
    return undefined;
  }
}
