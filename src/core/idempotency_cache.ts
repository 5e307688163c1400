// Idempotency on (controller, device, sequence number): successful responses
// are cached for a TTL; a duplicate arriving while the first is in flight
// joins it instead of reaching the device twice. Failures are not cached.
// A key reused for a different request (method or payload) is refused
// rather than answered with another request's response.
//
// Memory follows the traffic of the last TTL, not the relay's history:
// entries are kept in insertion order, which is expiry order (one TTL for
// all), so expired ones are swept from the oldest end on every run and by a
// timer while any are held; the oldest go first when max_entries or
// max_bytes is reached. The byte bound counts the buffers a cached payload
// keeps alive, not the length of its view: a small response decoded from a
// larger message buffer is copied out, so it does not pin that buffer.
import { RelayError } from "../errors/relay_error.ts";
import type { DeviceResponse } from "./messages.ts";

export interface IdempotencyCacheOptions {
  ttlMs: number;
  maxEntries: number;
  /** Bound on buffer bytes held by cached payloads; a larger response is not cached. */
  maxBytes: number;
  now?: () => number;
}

interface Entry {
  response: DeviceResponse;
  fingerprint: string;
  expiresAt: number;
  /** Buffer bytes its payload keeps alive. */
  bytes: number;
}

interface InFlight {
  promise: Promise<DeviceResponse>;
  fingerprint: string;
}

export type IdempotencyOutcome = "cached" | "joined" | "executed";

/** An expired entry may outlive its TTL by this fraction of it (fewer timer wake-ups). */
const SWEEP_SLACK = 1 / 16;
/** setTimeout's longest delay; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class IdempotencyCache {
  readonly #done = new Map<string, Entry>();
  readonly #inFlight = new Map<string, InFlight>();
  readonly #options: IdempotencyCacheOptions;
  readonly #now: () => number;
  #bytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: IdempotencyCacheOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  static key(
    controllerId: string,
    deviceId: string,
    sequenceNumber: number,
  ): string {
    return `${controllerId}\u0000${deviceId}\u0000${sequenceNumber}`;
  }

  /** Responses cached (expired ones not swept yet included). */
  get size(): number {
    return this.#done.size;
  }

  /** Buffer bytes held by cached payloads. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Runs `execute` once per key; duplicates (same `fingerprint`) get the
   * cached or in-flight result.
   */
  async run(
    key: string,
    fingerprint: string,
    execute: () => Promise<DeviceResponse>,
  ): Promise<{ response: DeviceResponse; outcome: IdempotencyOutcome }> {
    this.#sweep();
    const cached = this.#done.get(key);
    if (cached !== undefined) {
      checkSameRequest(cached.fingerprint, fingerprint);
      return { response: cached.response, outcome: "cached" };
    }
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) {
      checkSameRequest(pending.fingerprint, fingerprint);
      return { response: await pending.promise, outcome: "joined" };
    }

    const promise = execute();
    this.#inFlight.set(key, { promise, fingerprint });
    try {
      const response = await promise;
      if (response.error === "OK") this.#store(key, response, fingerprint);
      return { response, outcome: "executed" };
    } finally {
      this.#inFlight.delete(key);
    }
  }

  /** Forgets every cached response and stops the sweep timer; later runs are not cached. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#done.clear();
    this.#bytes = 0;
  }

  #store(key: string, response: DeviceResponse, fingerprint: string): void {
    if (this.#closed) return;
    const payload = retainable(response.encrypted_payload);
    const bytes = payload.buffer.byteLength;
    if (bytes > this.#options.maxBytes) return;
    this.#delete(key);
    while (
      this.#done.size >= this.#options.maxEntries ||
      this.#bytes + bytes > this.#options.maxBytes
    ) {
      const oldest = this.#done.keys().next();
      if (oldest.done) break;
      this.#delete(oldest.value);
    }
    this.#done.set(key, {
      response: { ...response, encrypted_payload: payload },
      fingerprint,
      expiresAt: this.#now() + this.#options.ttlMs,
      bytes,
    });
    this.#bytes += bytes;
    this.#arm();
  }

  /** Drops expired entries from the oldest end. */
  #sweep(): void {
    const now = this.#now();
    for (const [key, entry] of this.#done) {
      if (entry.expiresAt > now) break;
      this.#delete(key);
    }
  }

  /** One timer at a time, for the oldest entry's expiry (plus slack). */
  #arm(): void {
    if (this.#timer !== undefined) return;
    const oldest = this.#done.values().next();
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
    // Cached responses never keep a process alive.
    Deno.unrefTimer(this.#timer);
  }

  #delete(key: string): void {
    const entry = this.#done.get(key);
    if (entry === undefined) return;
    this.#done.delete(key);
    this.#bytes -= entry.bytes;
  }
}

/**
 * The payload as it may be cached: as it is when it (nearly) fills its
 * buffer, else copied into a buffer of its own. Decoded messages hand out
 * views into the received message or frame, which the view keeps alive whole.
 */
function retainable(payload: Uint8Array): Uint8Array {
  const slack = payload.buffer.byteLength - payload.byteLength;
  return slack <= payload.byteLength / 8 ? payload : new Uint8Array(payload);
}

function checkSameRequest(expected: string, actual: string): void {
  if (expected !== actual) {
    throw new RelayError(
      "INVALID_REQUEST",
      "sequence number already used for a different request",
      {
        source: "downstream",
      },
    );
  }
}
