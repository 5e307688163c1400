// The state a relay cluster shares (issue 17, step 1): device credentials
// (SHA-256 hashes) and projects, revoked token hashes and revoked JWT ids, in
// a NATS JetStream KV bucket. Every relay keeps the whole bucket mirrored in
// memory from a watch, so its reads stay synchronous as with the SQLite
// RelayStore, and a relay that was down replays what changed meanwhile when
// it starts. Writes go to the bucket and count once it acknowledged them;
// every relay's mirror (the writer's too) applies them from its watch, and
// `onChange` says what changed so a relay can close the streams a revocation
// ends on it. Keys are subjects: ids that may hold other characters are base64url.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import { validateDeviceId } from "../auth/device_id.ts";
import { digestsEqual, hashToken } from "../auth/token_hash.ts";
import { RelayError } from "../errors/relay_error.ts";
import type { FleetStore, FleetStoreChange } from "../store/fleet_store.ts";
import {
  type DeviceRecord,
  randomBase64Url,
  type RevokedKind,
} from "../store/relay_store.ts";

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
/** Pause between attempts while JetStream elects its leaders. */
const RETRY_MS = 250;
/** One write's wait for its acknowledgement (a dead leader never sends one). */
const PUT_ATTEMPT_MS = 1000;

const encoder = new TextEncoder();
const base64url = (text: string) =>
  btoa(String.fromCharCode(...encoder.encode(text)))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

export class ClusterState implements FleetStore {
  readonly #nc: NatsConnection;
  readonly #kv: KV;
  readonly #onChange: ClusterStateOptions["onChange"];
  readonly #bucket: string;
  readonly #writeTimeoutMs: number;
  readonly #devices = new Map<string, StoredDevice>();
  /** Current credential hash -> device id. */
  readonly #byCredential = new Map<string, string>();
  readonly #revokedTokens = new Set<string>();
  readonly #revokedJtis = new Set<string>();
  #watching: Promise<void> = Promise.resolve();

  private constructor(
    nc: NatsConnection,
    kv: KV,
    options: ClusterStateOptions,
  ) {
    this.#nc = nc;
    this.#kv = kv;
    this.#onChange = options.onChange;
    this.#bucket = bucketOf(options);
    this.#writeTimeoutMs = options.writeTimeoutMs ?? 10_000;
  }

  /** Connects, opens (or creates) the bucket and mirrors it; rejects with UNAVAILABLE in time. */
  static async open(options: ClusterStateOptions): Promise<ClusterState> {
    const timeoutMs = options.openTimeoutMs ?? 10_000;
    const giveUpAt = Date.now() + timeoutMs;
    const nc = await connect({
      servers: options.servers,
      name: options.name ?? "relay",
      timeout: timeoutMs,
      maxReconnectAttempts: -1,
    }).catch((error) => {
      throw new RelayError(
        "UNAVAILABLE",
        `cannot reach NATS at ${options.servers.join(", ")}: ${
          (error as Error).message
        }`,
      );
    });
    try {
      const kv = await openBucket(nc, options, giveUpAt);
      const state = new ClusterState(nc, kv, options);
      await state.#mirror(giveUpAt);
      return state;
    } catch (error) {
      await nc.close().catch(() => {});
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.#nc.drain().catch(() => {});
    await this.#watching;
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
    await this.#put(DEVICE + base64url(deviceId), stored);
    this.#apply(DEVICE + base64url(deviceId), stored, false);
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
    await this.#put(DEVICE + base64url(stored.device_id), revoked);
    this.#apply(DEVICE + base64url(stored.device_id), revoked, false);
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
    await this.#put(REVOKED_JTI + base64url(jti), value);
    this.#apply(REVOKED_JTI + base64url(jti), value, false);
  }

  /** Retried while JetStream elects new leaders (a NATS node died). */
  async #put(key: string, value: unknown): Promise<void> {
    const giveUpAt = Date.now() + this.#writeTimeoutMs;
    for (;;) {
      try {
        await this.#kv.put(key, JSON.stringify(value), {
          timeout: PUT_ATTEMPT_MS,
        });
        return;
      } catch (error) {
        if (Date.now() + RETRY_MS > giveUpAt) {
          throw new RelayError(
            "UNAVAILABLE",
            `the cluster store did not take the write: ${
              (error as Error).message
            }`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  /**
   * Follows the bucket; resolves once the values already in it are applied.
   * The watch replays them and follows; a plain subscription to the bucket's
   * subjects follows too, because a watch whose consumer lived on a NATS node
   * that died lags until the client recreates it (seconds), while published
   * values reach subscribers on every node at once. Applying is idempotent.
   */
  async #mirror(giveUpAt: number): Promise<void> {
    const prefix = `$KV.${this.#bucket}.`;
    this.#nc.subscribe(`${prefix}>`, {
      callback: (error, message) => {
        if (error !== null) return;
        const operation = message.headers?.get("KV-Operation");
        if (operation === "DEL" || operation === "PURGE") return;
        try {
          this.#apply(message.subject.slice(prefix.length), message.json());
        } catch {
          // Not a value this relay can read.
        }
      },
    });
    const { values } = await this.#kv.status();
    const watcher = await this.#kv.watch({ key: ">" });
    const initialized = Promise.withResolvers<void>();
    if (values === 0) initialized.resolve();
    this.#watching = (async () => {
      for await (const entry of watcher) {
        this.#applyEntry(entry);
        // `delta` counts the values still to come of the initial replay.
        if (entry.delta === 0 || entry.isUpdate) initialized.resolve();
      }
    })().catch(() => {
      // The connection closed (close() or for good).
    });
    const timer = setTimeout(
      () =>
        initialized.reject(
          new RelayError("UNAVAILABLE", "the cluster store did not replay"),
        ),
      Math.max(0, giveUpAt - Date.now()),
    );
    try {
      await initialized.promise;
    } finally {
      clearTimeout(timer);
    }
  }

  #applyEntry(entry: KvEntry): void {
    if (entry.operation !== "PUT") return; // nothing here deletes
    try {
      this.#apply(entry.key, entry.json());
    } catch {
      // A value this relay cannot read is skipped, not fatal.
    }
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

/** The bucket, created on first use; retried while JetStream elects leaders. */
async function openBucket(
  nc: NatsConnection,
  options: ClusterStateOptions,
  giveUpAt: number,
): Promise<KV> {
  const kvm = new Kvm(nc);
  for (;;) {
    try {
      return await kvm.create(bucketOf(options), {
        history: 1,
        replicas: options.replicas ?? 3,
      });
    } catch (error) {
      if (Date.now() + RETRY_MS > giveUpAt) {
        throw new RelayError(
          "UNAVAILABLE",
          `cannot open the cluster store: ${(error as Error).message}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}

function bucketOf(options: ClusterStateOptions): string {
  return options.bucket ?? "relay_state";
}

function toDeviceRecord(stored: StoredDevice): DeviceRecord {
  return {
    deviceId: stored.device_id,
    project: stored.project,
    createdAt: stored.created_at,
    revokedAt: stored.revoked_at,
  };
}
