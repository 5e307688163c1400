// Failed authentications per source address (config relay.auth.
// max_failures_per_address, failure_window_seconds, block_seconds): an address
// with maxFailures failures inside a sliding window is blocked for blockMs.
// Memory is bounded like KeyedRateLimiter: the Map is in order of last
// failure, maxKeys evicts the oldest, and each call sweeps a few front
// entries whose failures and block have all run out (they carry no state).
// A hard bound means a flood of distinct addresses can push out a blocked
// one; the block is a brake on guessing, not an access list.

export interface FailureTrackerOptions {
  /** Failures within windowMs that block the address. */
  maxFailures: number;
  windowMs: number;
  blockMs: number;
  /** Hard bound on addresses tracked. */
  maxKeys: number;
  /** Milliseconds, monotonic by default. */
  now?: () => number;
}

interface Entry {
  /** Failure times inside the window, oldest first; fewer than maxFailures. */
  failures: number[];
  lastFailure: number;
  blockedUntil: number;
}

const SWEEP_BATCH = 2;

export class FailureTracker {
  readonly #options: FailureTrackerOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(options: FailureTrackerOptions) {
    if (
      !(options.maxFailures >= 1) || !(options.maxKeys >= 1) ||
      !(options.windowMs > 0) || !(options.blockMs >= 0)
    ) {
      throw new RangeError(
        "maxFailures and maxKeys must be >= 1, windowMs > 0, blockMs >= 0",
      );
    }
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Addresses currently tracked (for a gauge). */
  get size(): number {
    return this.#entries.size;
  }

  /** Counts one failure; returns whether the address is blocked now. */
  recordFailure(address: string): boolean {
    const now = this.#now();
    this.#sweep(now);
    let entry = this.#entries.get(address);
    // Failures while blocked neither extend the block nor count towards the next.
    if (entry !== undefined && entry.blockedUntil > now) return true;
    if (entry === undefined) {
      if (this.#entries.size >= this.#options.maxKeys) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) this.#entries.delete(oldest.value);
      }
      entry = { failures: [], lastFailure: now, blockedUntil: 0 };
    } else {
      this.#entries.delete(address);
    }
    this.#entries.set(address, entry);
    entry.lastFailure = now;
    const windowStart = now - this.#options.windowMs;
    while (entry.failures.length > 0 && entry.failures[0]! <= windowStart) {
      entry.failures.shift();
    }
    entry.failures.push(now);
    if (entry.failures.length < this.#options.maxFailures) return false;
    entry.failures = [];
    entry.blockedUntil = now + this.#options.blockMs;
    return entry.blockedUntil > now;
  }

  isBlocked(address: string): boolean {
    return this.retryAfterMs(address) > 0;
  }

  /** Milliseconds until the address's block ends; 0 when it is not blocked. */
  retryAfterMs(address: string): number {
    const now = this.#now();
    this.#sweep(now);
    const blockedUntil = this.#entries.get(address)?.blockedUntil ?? 0;
    return Math.max(0, blockedUntil - now);
  }

  #sweep(now: number): void {
    for (let i = 0; i < SWEEP_BATCH; i++) {
      const first = this.#entries.entries().next();
      if (first.done) return;
      const [address, entry] = first.value;
      const expired = entry.lastFailure + this.#options.windowMs <= now &&
        entry.blockedUntil <= now;
      if (!expired) return;
      this.#entries.delete(address);
    }
  }
}
