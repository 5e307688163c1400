// A token bucket with lazy refill: no timers, the level is recomputed from the
// time elapsed since the last update. The clock is injected so tests (and the
// keyed limiter's idle sweep) never sleep.

export interface TokenBucketOptions {
  /** Sustained rate in tokens per second; 0 means unlimited. */
  perSecond: number;
  /** Capacity: the most that can be taken at once after a quiet period. */
  burst: number;
  /** Milliseconds; a monotonic clock by default so wall-clock jumps don't mint tokens. */
  now?: () => number;
}

export class TokenBucket {
  readonly perSecond: number;
  readonly burst: number;
  readonly #now: () => number;
  #tokens: number;
  #updatedAt: number;

  constructor(options: TokenBucketOptions) {
    if (!(options.perSecond >= 0) || !(options.burst > 0)) {
      throw new RangeError("perSecond must be >= 0 and burst > 0");
    }
    this.perSecond = options.perSecond;
    this.burst = options.burst;
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = options.burst;
    this.#updatedAt = this.#now();
  }

  get unlimited(): boolean {
    return this.perSecond === 0;
  }

  /** Current level; negative while in debt after `charge`. */
  get tokens(): number {
    return this.unlimited ? this.burst : this.#refill();
  }

  /** Full again: forgetting this bucket and starting a fresh one changes nothing. */
  get full(): boolean {
    return this.tokens >= this.burst;
  }

  /** Takes `n` tokens if all are available; n > burst never succeeds. */
  tryTake(n = 1): boolean {
    if (this.unlimited) return true;
    if (this.#refill() < n) return false;
    this.#tokens -= n;
    return true;
  }

  /**
   * Takes `n` unconditionally, possibly into debt: for work already done
   * (response bytes received), which later callers pay for by waiting.
   */
  charge(n: number): void {
    if (this.unlimited) return;
    this.#refill();
    this.#tokens -= n;
  }

  /** Returns tokens taken by a check that was then abandoned (capped at burst). */
  give(n: number): void {
    if (this.unlimited) return;
    this.#tokens = Math.min(this.burst, this.#refill() + n);
  }

  /** Milliseconds until `n` tokens are available: 0 now, Infinity if n > burst. */
  retryAfterMs(n = 1): number {
    if (this.unlimited) return 0;
    if (n > this.burst) return Infinity;
    const missing = n - this.#refill();
    return missing <= 0 ? 0 : Math.ceil((missing * 1000) / this.perSecond);
  }

  #refill(): number {
    const now = this.#now();
    // A clock that steps back adds nothing (and is not counted twice later).
    if (now > this.#updatedAt) {
      const added = ((now - this.#updatedAt) * this.perSecond) / 1000;
      this.#tokens = Math.min(this.burst, this.#tokens + added);
      this.#updatedAt = now;
    }
    return this.#tokens;
  }
}
