// The one device handshake, for a device's control stream (its `register`
// message) and for each of its tunnels (the `open` frame): the source address
// must not be blocked, the first message must come within the handshake
// timeout, a draining relay refuses, and the device id and credential the
// message claims must hold (a revoked credential fails like a wrong one).
// Every outcome is audited. What a stream does next (rate limits, then
// registration or a tunnel handler) is its own business.
import { validateDeviceId } from "../auth/device_id.ts";
import { RelayError } from "../errors/relay_error.ts";
import type { Logger } from "../observability/logger.ts";
import type { DeviceRecord } from "../store/relay_store.ts";
import { firstMessageWithin } from "./first_message.ts";
import type { Gatekeeper, Peer } from "./gatekeeper.ts";

/** What the handshake needs from the core. */
export interface DeviceHandshakeDeps {
  gate: Gatekeeper;
  /** The device's record if `credential` is its valid, unrevoked credential. */
  verifyCredential: (
    deviceId: string,
    credential: string,
  ) => DeviceRecord | undefined;
  logger: Logger;
  /** Time a new stream has to send its first message. */
  handshakeTimeoutMs: number;
  isDraining: () => boolean;
}

/** Who the first message says the device is. */
export interface DeviceClaim {
  deviceId: string;
  credential: string;
}

/** What differs between the streams a device opens. */
export interface DeviceHandshakeKind<T> {
  /** The stream, in the log ("device", "tunnel"). */
  stream: string;
  /** The first message's name, in the timeout error and audit ("register message"). */
  expected: string;
  /** The claim of a first message; throws INVALID_REQUEST when it is not `expected`. */
  claim: (first: T) => DeviceClaim;
  /** Told about every first message refused (its claim or its credential). */
  onRefused?: (error: RelayError) => void;
}

/** An authenticated device and the first message that said so. */
export interface HandshakeResult<T> extends DeviceClaim {
  first: T;
  record: DeviceRecord;
}

/**
 * Reads and checks a device stream's first message. Resolves undefined when
 * the stream ends before saying anything; rejects with the RelayError to end
 * the stream with.
 */
export async function deviceHandshake<T>(
  peer: Peer,
  inbound: AsyncIterator<T>,
  deps: DeviceHandshakeDeps,
  kind: DeviceHandshakeKind<T>,
): Promise<HandshakeResult<T> | undefined> {
  const { gate } = deps;
  gate.checkNotBlocked(peer);
  let first: T | undefined;
  try {
    first = await firstMessageWithin(
      inbound,
      deps.handshakeTimeoutMs,
      kind.expected,
    );
  } catch (error) {
    if (error instanceof RelayError && error.code === "UNAUTHORIZED") {
      gate.handshakeTimedOut(peer, `no ${kind.expected}`);
    }
    throw error;
  }
  if (first === undefined) return undefined;
  if (deps.isDraining()) {
    throw new RelayError("UNAVAILABLE", "relay is shutting down");
  }
  try {
    const claim = kind.claim(first);
    validateDeviceId(claim.deviceId);
    const record = deps.verifyCredential(claim.deviceId, claim.credential);
    if (record === undefined) {
      const reason = "invalid or revoked device credential";
      gate.authFailed(peer, `device:${claim.deviceId}`, reason);
      deps.logger.warn(`${kind.stream} authentication failed`, {
        device_id: claim.deviceId,
        remote: peer.remoteAddress,
      });
      throw new RelayError("UNAUTHORIZED", reason, { source: "downstream" });
    }
    return { ...claim, first, record };
  } catch (error) {
    kind.onRefused?.(RelayError.from(error));
    throw error;
  }
}
