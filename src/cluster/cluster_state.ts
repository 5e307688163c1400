// The state a relay cluster shares (issue 17, step 1): device credentials
// (SHA-256 hashes) and projects, revoked token hashes and revoked JWT ids, in
// a NATS JetStream KV bucket. Every relay keeps the whole bucket mirrored in
// memory from a watch, so its reads stay synchronous as with the SQLite
// RelayStore, and a relay that was down replays what changed meanwhile when
// it starts (kv_mirror.ts). Writes go to the bucket and count once it
// acknowledged them; every relay's mirror applies them, and `onChange` says
// what another relay changed so this one can close the streams a revocation
// ends here. Keys are subjects: ids that may hold other characters are
// base64url.
import type { NatsConnection } from "@nats-io/transport-node";
import { validateDeviceId } from "../auth/device_id.ts";
import { digestsEqual, hashToken } from "../auth/token_hash.ts";
import type { FleetStore, FleetStoreChange } from "../store/fleet_store.ts";
import {
  type DeviceRecord,
  randomBase64Url,
  type RevokedKind,
} from "../store/relay_store.ts";
import { connectNats, keyOf, KvMirror } from "./kv_mirror.ts";
import type { NatsSecurity } from "./nats_options.ts";

export interface ClusterStateOptions {
  /** NATS server URLs (nats://host:port), any node of the cluster. */
  servers: string[];
  /** KV bucket (default "relay_state"). */
  bucket?: string;
  /** Copies of the bucket in the NATS cluster (default 3; 1 for a single server). */
  replicas?: number;
  /** Connection name the NATS server shows (the relay id). */
  name?: string;
  /** How long open() waits for NATS and the bucket (default 10 s). */
  openTimeoutMs?: number;
  /** How long a write is retried while JetStream fails over (default 10 s). */
  writeTimeoutMs?: number;
  onChange?: (change: FleetStoreChange) => void;
  /** TLS and credentials for NATS (src/cluster/nats_options.ts). */
  security?: NatsSecurity;
}

export type { FleetStoreChange as ClusterStateChange };

interface StoredDevice {
  device_id: string;
  project: string;
  credential_hash: string;
  created_at: number;
  revoked_at: number | null;
}

const DEVICE = "device.";
const REVOKED_TOKEN = "revoked_token.";
const REVOKED_JTI = "revoked_jti.";

export class ClusterState implements FleetStore {
  readonly #nc: NatsConnection;
  readonly #onChange: ClusterStateOptions["onChange"];
  readonly #devices = new Map<string, StoredDevice>();
  /** Current credential hash -> device id. */
  readonly #byCredential = new Map<string, string>();
  readonly #revokedTokens = new Set<string>();
  readonly #revokedJtis = new Set<string>();
  #mirror: KvMirror | undefined;

  private constructor(nc: NatsConnection, options: ClusterStateOptions) {
    this.#nc = nc;
    this.#onChange = options.onChange;
  }

  /** Connects, opens (or creates) the bucket and mirrors it; rejects with UNAVAILABLE in time. */
  static async open(options: ClusterStateOptions): Promise<ClusterState> {
    const timeoutMs = options.openTimeoutMs ?? 10_000;
    const giveUpAt = Date.now() + timeoutMs;
    const nc = await connectNats(
      options.servers,
      options.name ?? "relay",
      timeoutMs,
      options.security,
    );
    try {
      const state = new ClusterState(nc, options);
      state.#mirror = await KvMirror.open(nc, {
        bucket: options.bucket ?? "relay_state",
        replicas: options.replicas ?? 3,
        giveUpAt,
        writeTimeoutMs: options.writeTimeoutMs ?? 10_000,
        apply: (key, value) => {
          if (value !== undefined) state.#apply(key, value);
        },
      });
      return state;
    } catch (error) {
      await nc.close().catch(() => {});
      throw error;
    }
  }

  /** The relay's NATS connection (the cluster's other parts share it). */
  get connection(): NatsConnection {
    return this.#nc;
  }

  async close(): Promise<void> {
    await this.#nc.drain().catch(() => {});
    await this.#mirror?.stopped;
  }

  // Reads: from the mirror.

  getDevice(deviceId: string): DeviceRecord | undefined {
    const stored = this.#devices.get(deviceId);
    return stored === undefined ? undefined : toDeviceRecord(stored);
  }

  /** The device record if `credential` is the device's current, unrevoked one. */
  verifyDeviceCredential(
    deviceId: string,
    credential: string,
  ): DeviceRecord | undefined {
    const stored = this.#devices.get(deviceId);
    if (stored === undefined || stored.revoked_at !== null) return undefined;
    if (!digestsEqual(hashToken(credential), stored.credential_hash)) {
      return undefined;
    }
    return toDeviceRecord(stored);
  }

  isTokenRevoked(tokenHash: string): boolean {
    return this.#revokedTokens.has(tokenHash);
  }

  isJtiRevoked(jti: string): boolean {
    return this.#revokedJtis.has(jti);
  }

  // Writes: to the bucket, counted once it acknowledged them.

  /** Registers (or re-keys) a device and returns its new credential, shown once. */
  async registerDevice(deviceId: string, project: string): Promise<string> {
    validateDeviceId(deviceId);
    const credential = `rdc_${randomBase64Url(32)}`;
    const stored: StoredDevice = {
      device_id: deviceId,
      project,
      credential_hash: hashToken(credential),
      created_at: Date.now(),
      revoked_at: null,
    };
    await this.#put(DEVICE + keyOf(deviceId), stored);
    this.#apply(DEVICE + keyOf(deviceId), stored, false);
    return credential;
  }

  /** Revokes the device credential with this hash; returns the device id. */
  async revokeDeviceCredential(
    credentialHash: string,
  ): Promise<string | undefined> {
    const deviceId = this.#byCredential.get(credentialHash);
    const stored = deviceId === undefined
      ? undefined
      : this.#devices.get(deviceId);
    if (stored === undefined || stored.revoked_at !== null) return undefined;
    const revoked = { ...stored, revoked_at: Date.now() };
    await this.#put(DEVICE + keyOf(stored.device_id), revoked);
    this.#apply(DEVICE + keyOf(stored.device_id), revoked, false);
    return stored.device_id;
  }

  async revokeToken(
    tokenHash: string,
    kind: RevokedKind,
    reason: string,
  ): Promise<void> {
    const value = { kind, reason, revoked_at: Date.now() };
    await this.#put(REVOKED_TOKEN + tokenHash, value);
    this.#apply(REVOKED_TOKEN + tokenHash, value, false);
  }

  /** Revokes every controller token carrying this JWT id. */
  async revokeJti(jti: string, reason: string): Promise<void> {
    const value = { jti, reason, revoked_at: Date.now() };
    await this.#put(REVOKED_JTI + keyOf(jti), value);
    this.#apply(REVOKED_JTI + keyOf(jti), value, false);
  }

  #put(key: string, value: unknown): Promise<void> {
    return this.#mirror!.put(key, value);
  }

  /**
   * Applies one value to the mirror. `notify` is false for this relay's own
   * writes: it ends what they revoke itself, and the watch brings them back
   * as no change.
   */
  #apply(key: string, value: unknown, notify = true): void {
    const onChange = notify ? this.#onChange : undefined;
    if (key.startsWith(DEVICE)) {
      const stored = value as StoredDevice;
      const previous = this.#devices.get(stored.device_id);
      if (previous !== undefined) {
        this.#byCredential.delete(previous.credential_hash);
      }
      this.#devices.set(stored.device_id, stored);
      this.#byCredential.set(stored.credential_hash, stored.device_id);
      if (
        previous === undefined ||
        previous.revoked_at !== stored.revoked_at ||
        previous.credential_hash !== stored.credential_hash
      ) {
        onChange?.({
          kind: "device",
          deviceId: stored.device_id,
          revoked: stored.revoked_at !== null,
        });
      }
    } else if (key.startsWith(REVOKED_TOKEN)) {
      const tokenHash = key.slice(REVOKED_TOKEN.length);
      if (this.#revokedTokens.has(tokenHash)) return;
      this.#revokedTokens.add(tokenHash);
      onChange?.({ kind: "token_revoked", tokenHash });
    } else if (key.startsWith(REVOKED_JTI)) {
      const { jti } = value as { jti: string };
      if (this.#revokedJtis.has(jti)) return;
      this.#revokedJtis.add(jti);
      onChange?.({ kind: "jti_revoked", jti });
    }
  }
}

function toDeviceRecord(stored: StoredDevice): DeviceRecord {
  return {
    deviceId: stored.device_id,
    project: stored.project,
    createdAt: stored.created_at,
    revokedAt: stored.revoked_at,
  };
}
