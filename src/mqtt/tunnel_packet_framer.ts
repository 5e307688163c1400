// Splits an MQTT byte stream into whole control packets (fixed header: type
// and flags byte, Remaining Length as a variable byte integer of at most
// four bytes), so the tunnel can inspect each packet and pass the others on
// byte for byte. A packet's length is checked against the limit before
// anything is buffered for it; at most one partial packet is held.
import { RelayError } from "../errors/relay_error.ts";

export class MqttPacketFramer {
  readonly #maxPacketBytes: number;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #limitExceeded = false;

  constructor(maxPacketBytes: number) {
    this.#maxPacketBytes = maxPacketBytes;
  }

  /** Whether push() failed because a packet was over the limit. */
  get limitExceeded(): boolean {
    return this.#limitExceeded;
  }

  /** Bytes held of a packet not complete yet. */
  get pendingBytes(): number {
    return this.#buffered;
  }

  /**
   * The whole packets completed by `chunk` (views into it where possible).
   * Throws INVALID_REQUEST on a malformed length or a packet over the limit.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.byteLength > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.byteLength;
    }
    const packets: Uint8Array[] = [];
    for (;;) {
      const size = packetSize(this.#peek(5));
      if (size === undefined) break;
      if (size > this.#maxPacketBytes) {
        this.#limitExceeded = true;
        throw new RelayError(
          "INVALID_REQUEST",
          `MQTT packet of ${size} bytes exceeds the limit of ${this.#maxPacketBytes}`,
          { source: "downstream" },
        );
      }
      if (size > this.#buffered) break;
      packets.push(this.#take(size));
    }
    return packets;
  }

  /** Up to `bytes` bytes from the front, without consuming them. */
  #peek(bytes: number): Uint8Array {
    const first = this.#chunks[0];
    if (first === undefined) return new Uint8Array(0);
    if (first.byteLength >= bytes || this.#chunks.length === 1) {
      return first.subarray(0, bytes);
    }
    const out = new Uint8Array(Math.min(bytes, this.#buffered));
    let offset = 0;
    for (const chunk of this.#chunks) {
      if (offset === out.byteLength) break;
      const part = chunk.subarray(0, out.byteLength - offset);
      out.set(part, offset);
      offset += part.byteLength;
    }
    return out;
  }

  #take(bytes: number): Uint8Array {
    this.#buffered -= bytes;
    const first = this.#chunks[0]!;
    if (first.byteLength >= bytes) {
      if (first.byteLength === bytes) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(bytes);
      return first.subarray(0, bytes);
    }
    const out = new Uint8Array(bytes);
    let offset = 0;
    while (offset < bytes) {
      const chunk = this.#chunks[0]!;
      const part = chunk.subarray(0, bytes - offset);
      out.set(part, offset);
      offset += part.byteLength;
      if (part.byteLength === chunk.byteLength) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part.byteLength);
    }
    return out;
  }
}

/** Size of the whole packet whose first bytes are `head`, or undefined while its header is incomplete. */
function packetSize(head: Uint8Array): number | undefined {
  let remaining = 0;
  for (let i = 0; i < 4; i++) {
    const byte = head[1 + i];
    if (byte === undefined) return undefined;
    remaining += (byte & 0x7f) * 128 ** i;
    if ((byte & 0x80) === 0) return 1 + (i + 1) + remaining;
  }
  throw new RelayError(
    "INVALID_REQUEST",
    "malformed MQTT packet: remaining length longer than four bytes",
    { source: "downstream" },
  );
}

/** The control packet type (1 CONNECT ... 15 AUTH) of a whole packet. */
export function packetType(packet: Uint8Array): number {
  return packet[0]! >> 4;
}

/** One buffer of `parts`; adjacent views of the same buffer are not copied. */
export function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const first = parts[0];
  if (first === undefined) return new Uint8Array(0);
  let contiguous = true;
  let end = first.byteOffset + first.byteLength;
  for (let i = 1; i < parts.length && contiguous; i++) {
    const part = parts[i]!;
    contiguous = part.buffer === first.buffer && part.byteOffset === end;
    end += part.byteLength;
  }
  if (contiguous) {
    return new Uint8Array(
      first.buffer,
      first.byteOffset,
      end - first.byteOffset,
    );
  }
  let total = 0;
  for (const part of parts) total += part.byteLength;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
