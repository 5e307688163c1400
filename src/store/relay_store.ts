// Embedded store (node:sqlite in the state directory): device credentials,
// kept only as SHA-256 hashes, revoked token hashes and revoked JWT ids. The CLI and a
// running relay may share the file: SQLite serialises their writes.
import { DatabaseSync } from "node:sqlite";
import { validateDeviceId } from "../auth/device_id.ts";
import { digestsEqual, hashToken } from "../auth/token_hash.ts";
import type { FleetStore } from "./fleet_store.ts";

export interface DeviceRecord {
  deviceId: string;
  project: string;
  createdAt: number;
  revokedAt: number | null;
}

export type RevokedKind = "controller" | "device";

const SCHEMA = `
  PRAGMA journal_mode = WAL;
  PRAGMA busy_timeout = 5000;
  CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    credential_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  CREATE TABLE IF NOT EXISTS revoked_tokens (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    revoked_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS revoked_jtis (
    jti TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    revoked_at INTEGER NOT NULL
  );
`;

export class RelayStore implements FleetStore {
  readonly #db: DatabaseSync;
  readonly #revoked = new Set<string>();
  readonly #revokedJtis = new Set<string>();

  /** `path` is a file in the state directory, or ":memory:" for tests. */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(SCHEMA);
    this.#loadRevocations();
  }

  close(): void {
    this.#db.close();
  }

  /** Registers (or re-keys) a device and returns its new credential, shown once. */
  registerDevice(deviceId: string, project: string): string {
    validateDeviceId(deviceId);
    const credential = `rdc_${randomBase64Url(32)}`;
    this.#db.prepare(
      `INSERT INTO devices (device_id, project, credential_hash, created_at, revoked_at)
       VALUES (?, ?, ?, ?, NULL)
       ON CONFLICT(device_id) DO UPDATE SET project = excluded.project,
         credential_hash = excluded.credential_hash, created_at = excluded.created_at,
         revoked_at = NULL`,
    ).run(deviceId, project, hashToken(credential), Date.now());
    return credential;
  }

  getDevice(deviceId: string): DeviceRecord | undefined {
    const row = this.#db.prepare(
      "SELECT device_id, project, created_at, revoked_at FROM devices WHERE device_id = ?",
    ).get(deviceId) as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toDeviceRecord(row);
  }

  /** The device record if `credential` is the device's current, unrevoked one. */
  verifyDeviceCredential(
    deviceId: string,
    credential: string,
  ): DeviceRecord | undefined {
    const row = this.#db.prepare(
      `SELECT device_id, project, created_at, revoked_at, credential_hash
       FROM devices WHERE device_id = ?`,
    ).get(deviceId) as Record<string, unknown> | undefined;
    if (row === undefined || row.revoked_at !== null) return undefined;
    if (!digestsEqual(hashToken(credential), String(row.credential_hash))) {
      return undefined;
    }
    return toDeviceRecord(row);
  }

  /** Revokes the device credential with this hash; returns the device id. */
  revokeDeviceCredential(credentialHash: string): string | undefined {
    const row = this.#db.prepare(
      "SELECT device_id FROM devices WHERE credential_hash = ? AND revoked_at IS NULL",
    ).get(credentialHash) as { device_id: string } | undefined;
    if (row === undefined) return undefined;
    this.#db.prepare("UPDATE devices SET revoked_at = ? WHERE device_id = ?")
      .run(Date.now(), row.device_id);
    return row.device_id;
  }

  revokeToken(tokenHash: string, kind: RevokedKind, reason: string): void {
    this.#db.prepare(
      `INSERT INTO revoked_tokens (token_hash, kind, reason, revoked_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(token_hash) DO NOTHING`,
    ).run(tokenHash, kind, reason, Date.now());
    this.#revoked.add(tokenHash);
  }

  isTokenRevoked(tokenHash: string): boolean {
    return this.#revoked.has(tokenHash);
  }

  /** Revokes every controller token carrying this JWT id. */
  revokeJti(jti: string, reason: string): void {
    this.#db.prepare(
      `INSERT INTO revoked_jtis (jti, reason, revoked_at) VALUES (?, ?, ?)
       ON CONFLICT(jti) DO NOTHING`,
    ).run(jti, reason, Date.now());
    this.#revokedJtis.add(jti);
  }

  isJtiRevoked(jti: string): boolean {
    return this.#revokedJtis.has(jti);
  }

  #loadRevocations(): void {
    const rows = this.#db.prepare("SELECT token_hash FROM revoked_tokens")
      .all() as {
        token_hash: string;
      }[];
    for (const row of rows) this.#revoked.add(row.token_hash);
    const jtis = this.#db.prepare("SELECT jti FROM revoked_jtis").all() as {
      jti: string;
    }[];
    for (const row of jtis) this.#revokedJtis.add(row.jti);
  }
}

function toDeviceRecord(row: Record<string, unknown>): DeviceRecord {
  return {
    deviceId: String(row.device_id),
    project: String(row.project),
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  };
}

export function randomBase64Url(bytes: number): string {
  const raw = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...raw)).replace(/\+/g, "-").replace(
    /\//g,
    "_",
  )
    .replace(/=+$/, "");
}
