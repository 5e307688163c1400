// MQTT requires acknowledgements of QoS 1 and 2 publications in the order
// the publications arrived. Through the tunnel, some are the broker's (for
// forwarded publications) and some the relay's own (for refused ones): the
// relay's are held back until the broker acknowledged every publication
// forwarded before them. Bounded: a client has at most 65535 packet ids.
export const MAX_HELD_ACKNOWLEDGEMENTS = 65535;

export class AckOrder {
  /** Forwarded QoS 1/2 publications awaiting the broker's PUBACK/PUBREC: id -> order. */
  readonly #outstanding = new Map<number, number>();
  /** The relay's own acknowledgements, in order, waiting for earlier broker ones. */
  #held: { seq: number; bytes: Uint8Array }[] = [];
  #seq = 0;

  /** A QoS 1/2 publication went to the broker (a retransmission keeps its place). */
  forwarded(packetId: number): void {
    if (!this.#outstanding.has(packetId)) {
      this.#outstanding.set(packetId, ++this.#seq);
    }
  }

  /**
   * The relay acknowledges a publication itself: `bytes` go out now when no
   * earlier publication awaits the broker, else later (see `brokerAcked`).
   * False when too many are held (the client breaks the protocol).
   */
  acknowledge(bytes: Uint8Array, out: Uint8Array[]): boolean {
    if (this.#outstanding.size === 0 && this.#held.length === 0) {
      out.push(bytes);
      return true;
    }
    if (this.#held.length >= MAX_HELD_ACKNOWLEDGEMENTS) return false;
    this.#held.push({ seq: ++this.#seq, bytes });
    return true;
  }

  /** The broker acknowledged `packetId`: held acknowledgements now due go to `out`. */
  brokerAcked(packetId: number, out: Uint8Array[]): void {
    if (!this.#outstanding.delete(packetId) || this.#held.length === 0) return;
    // Map order is insertion order, so the first entry is the oldest.
    const oldest = this.#outstanding.values().next();
    const limit = oldest.done ? Infinity : oldest.value;
    let released = 0;
    while (
      released < this.#held.length && this.#held[released]!.seq < limit
    ) {
      out.push(this.#held[released]!.bytes);
      released++;
    }
    if (released > 0) this.#held = this.#held.slice(released);
  }
}
