// Two connected in-memory node Duplex streams: bytes written to one are read
// from the other, with backpressure (a write completes once the peer's reader
// wants more). Used to attach the relay's own MQTT client and MQTT tunnels to
// the embedded broker without a socket. (Deno 2.9.6's node:stream duplexPair
// stops emitting 'readable' after the first read, which stalls aedes.)
import { Duplex } from "node:stream";

/** Bytes a side buffers before its writer waits: about a loopback socket's buffer. */
const BUFFER_BYTES = 256 * 1024;

class PairSide extends Duplex {
  peer: PairSide | undefined;

  constructor() {
    super({
      readableHighWaterMark: BUFFER_BYTES,
      writableHighWaterMark: BUFFER_BYTES,
    });
  }
  /** Completes the write that waits for this side's reader. */
  #resumeWriter: (() => void) | undefined;

  override _write(
    chunk: Uint8Array,
    _encoding: string,
    callback: (error?: Error | null) => void,
  ): void {
    const peer = this.peer;
    if (peer === undefined || peer.destroyed) {
      callback(new Error("in-process connection closed"));
      return;
    }
    if (peer.push(chunk)) callback();
    else peer.#resumeWriter = () => callback();
  }

  override _read(): void {
    const resume = this.#resumeWriter;
    this.#resumeWriter = undefined;
    resume?.();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.peer !== undefined && !this.peer.destroyed) this.peer.push(null);
    callback();
  }

  override _destroy(
    error: Error | null,
    callback: (error?: Error | null) => void,
  ): void {
    const peer = this.peer;
    this.peer = undefined;
    this.#resumeWriter = undefined;
    if (peer !== undefined && !peer.destroyed) {
      peer.push(null);
      peer.destroy();
    }
    callback(error);
  }
}

/** A connected pair of in-memory duplex streams. */
export function duplexPair(): [Duplex, Duplex] {
  const a = new PairSide();
  const b = new PairSide();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
