// The device agent's idempotency cache: the answer to each recent request,
// keyed by (controller id, sequence number). The relay's own cache dies with
// the relay, so a retry after a relay crash or a move to another relay (or a
// request the relay re-sends after a resume) would run the handler again; it
// is answered from here instead, and a duplicate that arrives while the first
// still runs joins it. A key reused for a different request is refused.
//
// Answers are plaintext (the agent seals each for the envelope that asked),
// kept in insertion order, which is expiry order (one TTL for all): expired
// answers are swept from the oldest end on every use and by a timer, and the
// oldest go first when the entry or byte bound is reached.
import { createHash } from "node:crypto";
import { type ErrorCode, RelayError } from "../errors/relay_error.ts";

/** What a handler's run produced: its bytes, or its error. */
export interface Answer {
  /** Plaintext response bytes (empty with an error). */
  payload: Uint8Array;
  error: ErrorCode;
  errorMessage: string;
}

export interface AnswerCacheLimits {
  /** Answers kept; 0 turns the cache off (no deduplication, no joining). */
  maxEntries: number;
  /** How long an answer is kept after the handler produced it. */
  ttlMs: number;
  /** Payload bytes of kept answers; a larger answer is not kept. */
  maxBytes: number;
}

export const DEFAULT_ANSWER_CACHE_LIMITS: Readonly<AnswerCacheLimits> = Object
  .freeze({
    maxEntries: 10_000,
    ttlMs: 5 * 60_000,
    maxBytes: 16 * 1024 * 1024,
  });

export interface AnswerCacheOptions extends AnswerCacheLimits {
  now?: () => number;
}

export type AnswerSource = "executed" | "joined" | "cached";

interface Kept {
  answer: Answer;
  fingerprint: string;
  expiresAt: number;
}

interface Running {
  promise: Promise<Answer>;
  fingerprint: string;
}

/** A swept answer may outlive its TTL by this fraction of it (fewer timer wake-ups). */
const SWEEP_SLACK = 1 / 16;
/** setTimeout's longest delay; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class AnswerCache {
  readonly #limits: AnswerCacheLimits;
  readonly #now: () => number;
  readonly #kept = new Map<string, Kept>();
  readonly #running = new Map<string, Running>();
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: AnswerCacheOptions) {
    for (const limit of ["maxEntries", "ttlMs", "maxBytes"] as const) {
      const value = options[limit];
      if (!Number.isFinite(value) || value < 0) {
        throw new RangeError(`${limit} must be a number >= 0, got ${value}`);
      }
    }
    this.#limits = {
      maxEntries: options.maxEntries,
      ttlMs: options.ttlMs,
      maxBytes: options.maxBytes,
    };
    this.#now = options.now ?? Date.now;
  }

  static key(controllerId: string, sequenceNumber: number): string {
    return `${controllerId}\u0000${sequenceNumber}`;
  }

  /** Answers kept. */
  get size(): number {
    return this.#kept.size;
  }

  /** Payload bytes of the answers kept. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Runs `execute` once per key: a duplicate with the same `fingerprint` gets
   * the kept answer, or joins the run in progress. A rejected `execute` (the
   * request was refused or interrupted) is not kept: its duplicates waiting
   * get the same rejection, later ones run again. Throws RelayError
   * INVALID_REQUEST when the key belongs to a request with another fingerprint.
   */
  async run(
    key: string,
    fingerprint: string,
    execute: () => Promise<Answer>,
  ): Promise<{ answer: Answer; source: AnswerSource }> {
    if (this.#limits.maxEntries === 0 || this.#closed) {
      return { answer: await execute(), source: "executed" };
    }
    this.#sweep();
    const kept = this.#kept.get(key);
    if (kept !== undefined) {
      checkSameRequest(kept.fingerprint, fingerprint);
      return { answer: kept.answer, source: "cached" };
    }
    const running = this.#running.get(key);
    if (running !== undefined) {
      checkSameRequest(running.fingerprint, fingerprint);
      return { answer: await running.promise, source: "joined" };
    }
    const promise = execute();
    this.#running.set(key, { promise, fingerprint });
    try {
      const answer = await promise;
      this.#keep(key, { answer, fingerprint, expiresAt: 0 });
      return { answer, source: "executed" };
    } finally {
      this.#running.delete(key);
    }
  }

  /** Forgets every answer and stops the sweep timer; later runs are not deduplicated. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#kept.clear();
    this.#bytes = 0;
  }

  #keep(key: string, entry: Kept): void {
    const size = entry.answer.payload.byteLength;
    if (this.#closed || size > this.#limits.maxBytes) return;
    while (
      this.#kept.size >= this.#limits.maxEntries ||
      this.#bytes + size > this.#limits.maxBytes
    ) {
      const oldest = this.#kept.keys().next();
      if (oldest.done) break;
      this.#delete(oldest.value);
    }
    // Its own buffer: a view into a received frame would keep the frame alive.
    const payload = entry.answer.payload.slice();
    this.#kept.set(key, {
      ...entry,
      answer: { ...entry.answer, payload },
      expiresAt: this.#now() + this.#limits.ttlMs,
    });
    this.#bytes += size;
    this.#arm();
  }

  /** Drops expired answers from the oldest end. */
  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#kept) {
      if (entry.expiresAt > now) break;
      this.#delete(key);
    }
  }

  /** One timer at a time, for the oldest answer's expiry (plus slack). */
  #arm(): void {
    if (this.#timer !== undefined) return;
    const oldest = this.#kept.values().next();
    if (oldest.done) return;
    const delay = Math.min(
      MAX_TIMER_MS,
      Math.max(
        oldest.value.expiresAt - this.#now(),
        this.#limits.ttlMs * SWEEP_SLACK,
      ),
    );
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#sweep();
      this.#arm();
    }, delay);
    // Kept answers never keep a process alive.
    Deno.unrefTimer(this.#timer);
  }

  #delete(key: string): void {
    const entry = this.#kept.get(key);
    if (entry === undefined) return;
    this.#kept.delete(key);
    this.#bytes -= entry.answer.payload.byteLength;
  }
}

/**
 * What identifies a request's content for the cache: method, whether it came
 * end-to-end encrypted, and a digest of its (opened) payload. An E2E retry
 * carries a new envelope, so the plaintext is compared, not the bytes sent.
 */
export function requestFingerprint(
  method: string,
  payload: Uint8Array,
  encrypted: boolean,
): string {
  const digest = createHash("sha256").update(payload).digest("base64url");
  return `${method}\u0000${encrypted ? "e2e" : "plain"}\u0000${digest}`;
}

function checkSameRequest(expected: string, actual: string): void {
  if (expected !== actual) {
    throw new RelayError(
      "INVALID_REQUEST",
      "sequence number already used for a different request (method or payload differ); use a new sequence number",
      { source: "downstream" },
    );
  }
}
