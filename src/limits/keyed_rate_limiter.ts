// One token bucket per caller (device id, controller id, source address) with
// bounded memory. The Map's insertion order is the recency order (an entry is
// re-inserted on use), so the oldest entries are always at the front:
// - maxKeys is a hard bound: a new key evicts the least recently used one;
// - idle buckets are dropped by an amortised sweep of a few front entries on
//   each call, never by timers or full scans. Only buckets that are full by
//   now are dropped, so forgetting one changes nothing: a fresh bucket for
//   that key would be full too. An idle bucket still in debt (after `charge`)
//   is moved to the back and looked at again later.
import { TokenBucket } from "./token_bucket.ts";

export interface KeyedRateLimiterOptions {
  perSecond: number;
  burst: number;
  /** A bucket unused this long (and full again) is forgotten. */
  idleMs: number;
  /** Hard bound on buckets held. */
  maxKeys: number;
  /** Milliseconds, monotonic by default. */
  now?: () => number;
}

interface Entry {
  bucket: TokenBucket;
  lastUsed: number;
}

/** Front entries examined per call: more than the one key a call can add, so idle ones drain. */
const SWEEP_BATCH = 2;

export class KeyedRateLimiter {
  readonly perSecond: number;
  readonly burst: number;
  readonly #idleMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  #evicted = 0;

  constructor(options: KeyedRateLimiterOptions) {
    if (!(options.maxKeys >= 1) || !(options.idleMs >= 0)) {
      throw new RangeError("maxKeys must be >= 1 and idleMs >= 0");
    }
    // Validates perSecond and burst once, here, rather than on the first key.
    new TokenBucket(options);
    this.perSecond = options.perSecond;
    this.burst = options.burst;
    this.#idleMs = options.idleMs;
    this.#maxKeys = options.maxKeys;
    this.#now = options.now ?? (() => performance.now());
  }

  get unlimited(): boolean {
    return this.perSecond === 0;
  }

  /** Buckets currently held (for a gauge). */
  get size(): number {
    return this.#entries.size;
  }

  /** Buckets dropped by the maxKeys bound (their callers got a fresh, full bucket). */
  get evicted(): number {
    return this.#evicted;
  }

  tryTake(key: string, n = 1): boolean {
    if (this.unlimited) return true;
    return this.#use(key).tryTake(n);
  }

  /** Takes `n` unconditionally, possibly into debt (see TokenBucket.charge). */
  charge(key: string, n: number): void {
    if (this.unlimited) return;
    this.#use(key).charge(n);
  }

  /** Refunds an abandoned take; a forgotten bucket is full already. */
  give(key: string, n: number): void {
    this.#entries.get(key)?.bucket.give(n);
  }

  retryAfterMs(key: string, n = 1): number {
    if (this.unlimited) return 0;
    const bucket = this.#entries.get(key)?.bucket;
    if (bucket !== undefined) return bucket.retryAfterMs(n);
    return n > this.burst ? Infinity : 0;
  }

  #use(key: string): TokenBucket {
    const now = this.#now();
    this.#sweep(now);
    const existing = this.#entries.get(key);
    if (existing !== undefined) {
      this.#entries.delete(key);
      existing.lastUsed = now;
      this.#entries.set(key, existing);
      return existing.bucket;
    }
    if (this.#entries.size >= this.#maxKeys) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) {
        this.#entries.delete(oldest.value);
        this.#evicted++;
      }
    }
    const bucket = new TokenBucket({
      perSecond: this.perSecond,
      burst: this.burst,
      now: this.#now,
    });
    this.#entries.set(key, { bucket, lastUsed: now });
    return bucket;
  }

  #sweep(now: number): void {
    for (let i = 0; i < SWEEP_BATCH; i++) {
      const first = this.#entries.entries().next();
      if (first.done) return;
      const [key, entry] = first.value;
      if (now - entry.lastUsed < this.#idleMs) return;
      this.#entries.delete(key);
      if (!entry.bucket.full) this.#entries.set(key, entry);
    }
  }
}
