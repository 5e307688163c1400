// Idempotency on (controller, device, sequence number): successful responses
// are cached for a TTL; a duplicate arriving while the first is in flight
// joins it instead of reaching the device twice. Failures are not cached.
// A key reused for a different request (method or payload) is refused
// rather than answered with another request's response. Expiry, the bounds
// and joining are ExpiringStore's.
//
// The byte bound counts the buffers a cached payload keeps alive, not the
// length of its view: a small response decoded from a larger message buffer
// is copied out, so it does not pin that buffer.
import { RelayError } from "../errors/relay_error.ts";
import {
  ExpiringStore,
  type ExpiringStoreLimits,
  type Retained,
  type RunSource,
} from "../limits/expiring_store.ts";
import type { DeviceResponse } from "./messages.ts";

export interface IdempotencyCacheOptions extends ExpiringStoreLimits {
  now?: () => number;
}

export type IdempotencyOutcome = RunSource;

export class IdempotencyCache extends ExpiringStore<DeviceResponse> {
  constructor(options: IdempotencyCacheOptions) {
    super({
      ...options,
      retain: successWithOwnBuffer,
      conflict: sequenceNumberReused,
    });
  }

  static key(
    controllerId: string,
    deviceId: string,
    sequenceNumber: number,
  ): string {
    return `${controllerId}\u0000${deviceId}\u0000${sequenceNumber}`;
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
    const { value, source } = await this.runOnce(key, fingerprint, execute);
    return { response: value, outcome: source };
  }
}

/** Only successes are cached, each counted by the buffer its payload keeps alive. */
function successWithOwnBuffer(
  response: DeviceResponse,
): Retained<DeviceResponse> | undefined {
  if (response.error !== "OK") return undefined;
  const payload = retainable(response.encrypted_payload);
  return {
    value: { ...response, encrypted_payload: payload },
    bytes: payload.buffer.byteLength,
  };
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

function sequenceNumberReused(): RelayError {
  return new RelayError(
    "INVALID_REQUEST",
    "sequence number already used for a different request",
    { source: "downstream" },
  );
}
