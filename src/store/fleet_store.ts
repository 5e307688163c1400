// What the relay needs from the store of device credentials and revocations:
// the SQLite RelayStore of a single relay (relay_store.ts), or the cluster's
// shared state on NATS (src/cluster/cluster_state.ts). Reads are synchronous
// (the cluster mirrors its bucket in memory); writes may complete later.
import type { DeviceRecord, RevokedKind } from "./relay_store.ts";

export interface FleetStore {
  getDevice(deviceId: string): DeviceRecord | undefined;
  /** The device record if `credential` is the device's current, unrevoked one. */
  verifyDeviceCredential(
    deviceId: string,
    credential: string,
  ): DeviceRecord | undefined;
  isTokenRevoked(tokenHash: string): boolean;
  isJtiRevoked(jti: string): boolean;
  /** Revokes the device credential with this hash; the device id, if one matched. */
  revokeDeviceCredential(
    credentialHash: string,
  ): string | undefined | Promise<string | undefined>;
  revokeToken(
    tokenHash: string,
    kind: RevokedKind,
    reason: string,
  ): void | Promise<void>;
  revokeJti(jti: string, reason: string): void | Promise<void>;
}

/** A change of the shared state, as another relay of the cluster made it. */
export type FleetStoreChange =
  | { kind: "device"; deviceId: string; revoked: boolean }
  | { kind: "token_revoked"; tokenHash: string }
  | { kind: "jti_revoked"; jti: string };
