// Idempotency on (controller, device, sequence number): successful responses
// are cached (LRU + TTL); a duplicate arriving while the first is in flight
// joins it instead of reaching the device twice. Failures are not cached.
// A key reused for a different request (method or payload) is refused
// rather than answered with another request's response.
import { RelayError } from "../errors/relay_error.ts";
import type { DeviceResponse } from "./messages.ts";

export interface IdempotencyCacheOptions {
  ttlMs: number;
  maxEntries: number;
  /** Bound on cached payload bytes; a response larger than this is not cached. */
  maxBytes: number;
  now?: () => number;
}

interface Entry {
  response: DeviceResponse;
  fingerprint: string;
  expiresAt: number;
}

interface InFlight {
  promise: Promise<DeviceResponse>;
  fingerprint: string;
}

export type IdempotencyOutcome = "cached" | "joined" | "executed";

export class IdempotencyCache {
  readonly #done = new Map<string, Entry>();
  readonly #inFlight = new Map<string, InFlight>();
  readonly #options: IdempotencyCacheOptions;
  readonly #now: () => number;
  #bytes = 0;

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

  get size(): number {
    return this.#done.size;
  }

  /** Payload bytes held by cached responses. */
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
    const cached = this.#lookup(key);
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
      if (response.error === "OK") {
        this.#store(key, { response, fingerprint, expiresAt: 0 });
      }
      return { response, outcome: "executed" };
    } finally {
      this.#inFlight.delete(key);
    }
  }

  #lookup(key: string): Entry | undefined {
    const entry = this.#done.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#delete(key);
      return undefined;
    }
    // Refresh the LRU position.
    this.#done.delete(key);
    this.#done.set(key, entry);
    return entry;
  }

  #store(key: string, entry: Entry): void {
    const size = entry.response.encrypted_payload.byteLength;
    if (size > this.#options.maxBytes) return;
    this.#delete(key);
    while (
      this.#done.size >= this.#options.maxEntries ||
      this.#bytes + size > this.#options.maxBytes
    ) {
      const oldest = this.#done.keys().next().value;
      if (oldest === undefined) break;
      this.#delete(oldest);
    }
    this.#done.set(key, {
      ...entry,
      expiresAt: this.#now() + this.#options.ttlMs,
    });
    this.#bytes += size;
  }

  #delete(key: string): void {
    const entry = this.#done.get(key);
    if (entry === undefined) return;
    this.#done.delete(key);
    this.#bytes -= entry.response.encrypted_payload.byteLength;
  }
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
