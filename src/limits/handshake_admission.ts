// Bounds the connections of one listener that are in their handshake. Past
// the bound a new connection is refused at once, before any crypto: an
// overloaded relay otherwise spends its CPU on handshakes that its clients
// give up on (and retry), and a reconnect storm never settles. Refused
// clients back off with jitter, which spreads the storm.
export class HandshakeAdmission {
  readonly #max: number;
  readonly #onRefused: () => void;
  #pending = 0;

  constructor(max: number, onRefused: () => void) {
    this.#max = max;
    this.#onRefused = onRefused;
  }

  get pending(): number {
    return this.#pending;
  }

  /**
   * Admits one more handshake; returns its release function (call it once
   * the handshake finished or failed), or undefined when refused.
   */
  admit(): (() => void) | undefined {
    if (this.#pending >= this.#max) {
      this.#onRefused();
      return undefined;
    }
    this.#pending++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#pending--;
    };
  }
}
