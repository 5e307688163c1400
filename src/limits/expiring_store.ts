// The results of recent keyed runs, for idempotency: each key runs once; a
// duplicate with the same fingerprint gets the kept result, or joins the run
// still in progress; a key reused with another fingerprint is refused. The
// relay's idempotency cache and the device agent's answer cache are built on
// it and add only what they key on and what of a result they keep.
//
// Memory follows the traffic of the last TTL, not the process's history:
// results are kept in insertion order, which is expiry order (one TTL for
// all), so expired ones are swept from the oldest end on every run and by a
// timer while any are kept; the oldest go first when the entry or byte bound
// is reached.

export interface ExpiringStoreLimits {
  /** Results kept; 0 turns the store off (every run executes, none joins). */
  maxEntries: number;
  /** How long a result is kept after its run produced it. */
  ttlMs: number;
  /** Bytes the kept results hold; a larger result is not kept. */
  maxBytes: number;
}

/** A result as it is kept, and the bytes it holds while kept. */
export interface Retained<V> {
  value: V;
  bytes: number;
}

export interface ExpiringStoreOptions<V> extends ExpiringStoreLimits {
  /**
   * What of a result is kept and what it holds; undefined keeps nothing (the
   * result is still returned, and the next duplicate runs again).
   */
  retain: (result: V) => Retained<V> | undefined;
  /** The error a key reused with another fingerprint is refused with. */
  conflict: () => Error;
  now?: () => number;
}

export type RunSource = "executed" | "joined" | "cached";

interface Kept<V> extends Retained<V> {
  fingerprint: string;
  expiresAt: number;
}

interface Running<V> {
  promise: Promise<V>;
  fingerprint: string;
}

/** A swept result may outlive its TTL by this fraction of it (fewer timer wake-ups). */
const SWEEP_SLACK = 1 / 16;
/** setTimeout's longest delay; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class ExpiringStore<V> {
  readonly #options: ExpiringStoreOptions<V>;
  readonly #now: () => number;
  readonly #kept = new Map<string, Kept<V>>();
  readonly #running = new Map<string, Running<V>>();
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: ExpiringStoreOptions<V>) {
    for (const limit of ["maxEntries", "ttlMs", "maxBytes"] as const) {
      const value = options[limit];
      if (!Number.isFinite(value) || value < 0) {
        throw new RangeError(`${limit} must be a number >= 0, got ${value}`);
      }
    }
    this.#options = { ...options };
    this.#now = options.now ?? Date.now;
  }

  /** Results kept (expired ones not swept yet included). */
  get size(): number {
    return this.#kept.size;
  }

  /** Bytes the kept results hold, as `retain` counted them. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Runs `execute` once per key: a duplicate with the same `fingerprint` gets
   * the kept result, or joins the run in progress. A rejected `execute` is not
   * kept: its duplicates waiting get the same rejection, later ones run again.
   * Throws `conflict()` when the key belongs to a run with another fingerprint.
   */
  async runOnce(
    key: string,
    fingerprint: string,
    execute: () => Promise<V>,
  ): Promise<{ value: V; source: RunSource }> {
    if (this.#options.maxEntries === 0 || this.#closed) {
      return { value: await execute(), source: "executed" };
    }
    this.#sweep();
    const kept = this.#kept.get(key);
    if (kept !== undefined) {
      this.#checkSameRun(kept.fingerprint, fingerprint);
      return { value: kept.value, source: "cached" };
    }
    const running = this.#running.get(key);
    if (running !== undefined) {
      this.#checkSameRun(running.fingerprint, fingerprint);
      return { value: await running.promise, source: "joined" };
    }
    const promise = execute();
    this.#running.set(key, { promise, fingerprint });
    try {
      const value = await promise;
      this.#keep(key, fingerprint, value);
      return { value, source: "executed" };
    } finally {
      this.#running.delete(key);
    }
  }

  /** Forgets every result and stops the sweep timer; later runs execute as with the store off. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#kept.clear();
    this.#bytes = 0;
  }

  #checkSameRun(expected: string, actual: string): void {
    if (expected !== actual) throw this.#options.conflict();
  }

  #keep(key: string, fingerprint: string, result: V): void {
    if (this.#closed) return;
    const retained = this.#options.retain(result);
    if (retained === undefined || retained.bytes > this.#options.maxBytes) {
      return;
    }
    this.#delete(key);
    while (
      this.#kept.size >= this.#options.maxEntries ||
      this.#bytes + retained.bytes > this.#options.maxBytes
    ) {
      const oldest = this.#kept.keys().next();
      if (oldest.done) break;
      this.#delete(oldest.value);
    }
    this.#kept.set(key, {
      ...retained,
      fingerprint,
      expiresAt: this.#now() + this.#options.ttlMs,
    });
    this.#bytes += retained.bytes;
    this.#arm();
  }

  /** Drops expired results from the oldest end. */
  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#kept) {
      if (entry.expiresAt > now) break;
      this.#delete(key);
    }
  }

  /** One timer at a time, for the oldest result's expiry (plus slack). */
  #arm(): void {
    if (this.#timer !== undefined) return;
    const oldest = this.#kept.values().next();
    if (oldest.done) return;
    const delay = Math.min(
      MAX_TIMER_MS,
      Math.max(
        oldest.value.expiresAt - this.#now(),
        this.#options.ttlMs * SWEEP_SLACK,
      ),
    );
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#sweep();
      this.#arm();
    }, delay);
    // Kept results never keep a process alive.
    Deno.unrefTimer(this.#timer);
  }

  #delete(key: string): void {
    const entry = this.#kept.get(key);
    if (entry === undefined) return;
    this.#kept.delete(key);
    this.#bytes -= entry.bytes;
  }
}
