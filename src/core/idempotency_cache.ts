// Idempotency on (controller, device, sequence number): successful responses
// are cached (LRU + TTL); a duplicate arriving while the first is in flight
// joins it instead of reaching the device twice. Failures are not cached.
import type { DeviceResponse } from "./messages.ts";

export interface IdempotencyCacheOptions {
  ttlMs: number;
  maxEntries: number;
  now?: () => number;
}

interface Entry {
  response: DeviceResponse;
  expiresAt: number;
}

export type IdempotencyOutcome = "cached" | "joined" | "executed";

export class IdempotencyCache {
  readonly #done = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<DeviceResponse>>();
  readonly #options: IdempotencyCacheOptions;
  readonly #now: () => number;

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

  /** Runs `execute` once per key; duplicates get the cached or in-flight result. */
  async run(
    key: string,
    execute: () => Promise<DeviceResponse>,
  ): Promise<{ response: DeviceResponse; outcome: IdempotencyOutcome }> {
    const cached = this.#lookup(key);
    if (cached !== undefined) return { response: cached, outcome: "cached" };
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) {
      return { response: await pending, outcome: "joined" };
    }

    const promise = execute();
    this.#inFlight.set(key, promise);
    try {
      const response = await promise;
      if (response.error === "OK") this.#store(key, response);
      return { response, outcome: "executed" };
    } finally {
      this.#inFlight.delete(key);
    }
  }

  #lookup(key: string): DeviceResponse | undefined {
    const entry = this.#done.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#done.delete(key);
      return undefined;
    }
    // Refresh LRU position.
    this.#done.delete(key);
    this.#done.set(key, entry);
    return entry.response;
  }

  #store(key: string, response: DeviceResponse): void {
    this.#done.delete(key);
    while (this.#done.size >= this.#options.maxEntries) {
      const oldest = this.#done.keys().next().value;
      if (oldest === undefined) break;
      this.#done.delete(oldest);
    }
    this.#done.set(key, {
      response,
      expiresAt: this.#now() + this.#options.ttlMs,
    });
  }
}
