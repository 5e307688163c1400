// RevokeToken, applied. A controller token (the whole token, its SHA-256 hex
// or jti:<id>) goes on the revocation list and its open streams are closed;
// a device credential (the whole credential or its SHA-256 hex) is revoked,
// its session evicted and its tunnels ended. Prefixes are refused. Whether
// the caller may revoke is checked before (RelayCore.revokeToken).
import { hashToken, isTokenHash } from "../auth/token_hash.ts";
import { RelayError } from "../errors/relay_error.ts";
import type { FleetStore, FleetStoreChange } from "../store/fleet_store.ts";
import type { DeviceRegistry } from "./device_registry.ts";
import type { RevokeTokenRequest } from "./messages.ts";
import type { RevocationTracker } from "./revocation_tracker.ts";
import type { TunnelPort } from "./tunnel_port.ts";

/** Whole tokens are at least this long; anything shorter is a refused prefix. */
const MIN_TOKEN_LENGTH = 32;
const JTI_PREFIX = "jti:";
const MAX_JTI_LENGTH = 256;

export interface TokenRevocationOptions {
  store: FleetStore;
  registry: DeviceRegistry;
  tunnels: TunnelPort;
  /** Open controller streams by credential. */
  streams: RevocationTracker;
}

export interface Revoked {
  /** What was revoked, as logs and the audit trail name it (never usable). */
  revokedKey: string;
  /** Streams closed: controller streams, the device's stream and its tunnels. */
  closed: number;
}

export class TokenRevocation {
  readonly #options: TokenRevocationOptions;

  constructor(options: TokenRevocationOptions) {
    this.#options = options;
  }

  /** Rejects with INVALID_REQUEST or DEVICE_NOT_FOUND when nothing was revoked. */
  revoke(request: RevokeTokenRequest): Promise<Revoked> {
    const target = request.target_token_hash_or_prefix;
    const reason = request.reason || "revoked by admin";
    return target.startsWith(JTI_PREFIX)
      ? this.#revokeJti(target.slice(JTI_PREFIX.length), reason, request)
      : this.#revokeHash(target, reason, request);
  }

  /** Revokes a whole token or SHA-256 hex (device credential and/or controller token). */
  async #revokeHash(
    target: string,
    reason: string,
    request: RevokeTokenRequest,
  ): Promise<Revoked> {
    const { store, streams } = this.#options;
    if (!isTokenHash(target) && target.length < MIN_TOKEN_LENGTH) {
      throw new RelayError(
        "INVALID_REQUEST",
        "pass the whole token, its SHA-256 hex or jti:<id>; prefixes are not accepted",
        { source: "downstream" },
      );
    }
    const hash = isTokenHash(target) ? target : hashToken(target);
    let closed = 0;
    if (request.target_type !== "CONTROLLER") {
      const deviceId = await store.revokeDeviceCredential(hash);
      if (deviceId !== undefined) {
        await store.revokeToken(hash, "device", reason);
        closed += this.#endDevice(deviceId);
      } else if (request.target_type === "DEVICE") {
        throw new RelayError(
          "DEVICE_NOT_FOUND",
          "no active device credential matches",
          { source: "downstream" },
        );
      }
    }
    if (request.target_type !== "DEVICE") {
      await store.revokeToken(hash, "controller", reason);
      closed += streams.closeToken(hash, controllerRevoked());
    }
    // A hash prefix identifies the token in logs without being usable.
    return { revokedKey: `sha256:${hash.slice(0, 12)}`, closed };
  }

  /**
   * Another relay of the cluster revoked something: end what it holds here
   * (its own relay ended what it held there).
   */
  applyRemote(change: FleetStoreChange): number {
    switch (change.kind) {
      case "token_revoked":
        return this.#options.streams.closeToken(
          change.tokenHash,
          controllerRevoked(),
        );
      case "jti_revoked":
        return this.#options.streams.closeJti(change.jti, controllerRevoked());
      case "device":
        return change.revoked ? this.#endDevice(change.deviceId) : 0;
    }
  }

  /** Evicts the device's session and ends its tunnels; how many were closed. */
  #endDevice(deviceId: string): number {
    const error = new RelayError("UNAUTHORIZED", "device credential revoked");
    const evicted = this.#options.registry.evict(deviceId, "revoked", error);
    return (evicted ? 1 : 0) +
      this.#options.tunnels.closeDevice(deviceId, error);
  }

  async #revokeJti(
    jti: string,
    reason: string,
    request: RevokeTokenRequest,
  ): Promise<Revoked> {
    if (jti === "" || jti.length > MAX_JTI_LENGTH) {
      throw new RelayError(
        "INVALID_REQUEST",
        `jti must be 1-${MAX_JTI_LENGTH} characters`,
        { source: "downstream" },
      );
    }
    if (request.target_type === "DEVICE") {
      throw new RelayError(
        "INVALID_REQUEST",
        "device credentials have no jti; revoke them by hash",
        { source: "downstream" },
      );
    }
    await this.#options.store.revokeJti(jti, reason);
    return {
      revokedKey: JTI_PREFIX + jti,
      closed: this.#options.streams.closeJti(jti, controllerRevoked()),
    };
  }
}

function controllerRevoked(): RelayError {
  return new RelayError("UNAUTHORIZED", "controller token revoked");
}
