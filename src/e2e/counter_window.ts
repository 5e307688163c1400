// The replay window of one E2E session: which request counters the device
// has opened. The highest counter seen and a bitmap of the WINDOW below it
// (as IPsec's anti-replay window, RFC 4303 3.4.3): a counter seen before, or
// older than the window, is a replay. Pipelined requests may arrive in any
// order within the window.
export const COUNTER_WINDOW = 1024n;
const MASK = (1n << COUNTER_WINDOW) - 1n;

export class CounterWindow {
  #highest = 0n;
  /** Bit i: counter `highest - i` was seen. */
  #seen = 0n;

  /** Records `counter`; false when it was seen before or is older than the window. */
  record(counter: bigint): boolean {
    if (counter <= 0n) return false;
    if (counter > this.#highest) {
      const shift = counter - this.#highest;
      this.#seen = shift >= COUNTER_WINDOW
        ? 1n
        : ((this.#seen << shift) | 1n) & MASK;
      this.#highest = counter;
      return true;
    }
    const age = this.#highest - counter;
    if (age >= COUNTER_WINDOW) return false;
    const bit = 1n << age;
    if ((this.#seen & bit) !== 0n) return false;
    this.#seen |= bit;
    return true;
  }
}
