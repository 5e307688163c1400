// Device-side freshness and replay check for opened requests: a request must
// have been sealed within the window around the device's clock, after this
// guard was created (so a restart does not forget what it saw), and its
// HPKE `enc` must not have been seen before. The cache of seen `enc` values
// is bounded: when it is full, the oldest entry is dropped and requests
// sealed at or before that one are refused from then on.
import { requestRejected } from "./envelope.ts";
import { toBase64Url } from "./hpke_suite.ts";

export interface ReplayGuardOptions {
  /** How far a request's seal time may be from the device's clock (default 5 min). */
  windowMs?: number;
  /** Seen `enc` values kept (default 100,000, about 10 MB). */
  maxEntries?: number;
  now?: () => number;
}

export const DEFAULT_E2E_WINDOW_MS = 5 * 60_000;

export class ReplayGuard {
  readonly #windowMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** enc (base64url) -> sealed-at, in insertion order. */
  readonly #seen = new Map<string, number>();
  /** Requests sealed before this are refused. */
  #notBefore: number;
  #nextSweep = 0;

  constructor(options: ReplayGuardOptions = {}) {
    this.#windowMs = options.windowMs ?? DEFAULT_E2E_WINDOW_MS;
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
    this.#notBefore = this.#now();
  }

  get size(): number {
    return this.#seen.size;
  }

  /** Records the request, or throws RelayError INVALID_REQUEST when stale or replayed. */
  check(enc: Uint8Array, sealedAt: number): void {
    this.checkFresh(sealedAt);
    if (!this.record(enc, sealedAt)) throw requestRejected("replayed");
  }

  /** Throws RelayError INVALID_REQUEST when `sealedAt` is outside the window or before this guard. */
  checkFresh(sealedAt: number): void {
    const now = this.#now();
    if (sealedAt > now + this.#windowMs) {
      throw requestRejected(
        `sealed ${
          seconds(sealedAt - now)
        } in the future (controller and device clocks differ by more than ${
          seconds(this.#windowMs)
        })`,
      );
    }
    if (sealedAt < now - this.#windowMs) {
      throw requestRejected(
        `stale (sealed ${seconds(now - sealedAt)} ago, limit ${
          seconds(this.#windowMs)
        })`,
      );
    }
    if (sealedAt < this.#notBefore) {
      throw requestRejected(
        "stale (sealed before this device agent started, or evicted from its replay cache)",
      );
    }
  }

  /**
   * Records `enc` as seen (of a request that passed checkFresh, sealed at
   * `sealedAt`); false when it was seen before, i.e. a replay.
   */
  record(enc: Uint8Array, sealedAt: number): boolean {
    const id = toBase64Url(enc);
    if (this.#seen.has(id)) return false;
    this.#sweep(this.#now());
    this.#seen.set(id, sealedAt);
    return true;
  }

  #sweep(now: number): void {
    const full = this.#seen.size >= this.#maxEntries;
    if (!full && now < this.#nextSweep) return;
    this.#nextSweep = now + this.#windowMs / 4;
    for (const [id, sealedAt] of this.#seen) {
      if (sealedAt < now - this.#windowMs) this.#seen.delete(id);
    }
    while (this.#seen.size >= this.#maxEntries) {
      const [id, sealedAt] = this.#seen.entries().next().value!;
      this.#seen.delete(id);
      this.#notBefore = Math.max(this.#notBefore, sealedAt + 1);
    }
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
