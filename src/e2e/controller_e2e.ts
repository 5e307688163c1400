// The controller SDK's side of end-to-end encryption: finds each device's
// public key in ListOnlineDevices metadata, checks it against the pins or the
// known keys, seals requests to it and opens the responses. A device that
// opens session envelopes (metadata e2e.versions has 2) gets one session per
// ConnectToDevice session, authenticated with this controller's key and
// renewed every REKEY_AFTER_MS; older devices get per-request envelopes.
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { decodeJwt } from "jose";
import { RelayError } from "../errors/relay_error.ts";
import type { DeviceInfo__Output as DeviceInfo } from "../gen/relay/v1/DeviceInfo.ts";
import type { DeviceResponse__Output as DeviceResponse } from "../gen/relay/v1/DeviceResponse.ts";
import {
  type DeviceKeyPair,
  E2E_METADATA_KEY,
  generateDeviceKey,
  opensSessions,
  publicKeyFromMetadata,
} from "./device_key.ts";
import { NEW_SESSION_HINT } from "./device_sessions.ts";
import {
  KEY_UNKNOWN_PROBE,
  type SealedRequest,
  sealRequest,
} from "./envelope.ts";
import { SenderSession } from "./session_envelope.ts";
import { KeyPinning, type KeyPinningOptions } from "./key_pinning.ts";
import { withDeadline } from "../limits/deadline.ts";

export interface ControllerE2eOptions extends KeyPinningOptions {
  /** The controller id the relay stamps on requests (default: the token's `sub`). */
  controllerId?: string;
  /**
   * This controller's key pair: devices that trust only known controller
   * keys check it (default: a new key for this client).
   */
  key?: DeviceKeyPair;
}

/** A device's trusted key, and whether it opens session envelopes. */
export interface DeviceKeyInfo {
  publicKey: Uint8Array;
  sessions: boolean;
}

/** Sealed requests kept per session for retries with an explicit sequence number. */
const RETRY_ENTRIES = 1024;

/**
 * A session is renewed after this long: well inside a device's replay window
 * (5 minutes by default), whose lifetime for a session is twice that window.
 */
export const REKEY_AFTER_MS = 60_000;

export class ControllerE2e {
  readonly #pinning: KeyPinning;
  readonly #listDevices: () => Promise<DeviceInfo[]>;
  readonly #token: string;
  readonly #lookupTimeoutMs: number;
  readonly #keys = new Map<string, Promise<DeviceKeyInfo | undefined>>();
  readonly #key: Promise<DeviceKeyPair>;
  #controllerId: string | undefined;

  constructor(
    options: ControllerE2eOptions,
    token: string,
    listDevices: () => Promise<DeviceInfo[]>,
    lookupTimeoutMs = 30_000,
  ) {
    this.#pinning = new KeyPinning(options);
    this.#token = token;
    this.#lookupTimeoutMs = lookupTimeoutMs;
    this.#listDevices = listDevices;
    this.#controllerId = options.controllerId;
    this.#key = options.key
      ? Promise.resolve(options.key)
      : generateDeviceKey();
  }

  /** The key pair sessions are authenticated with. */
  controllerKey(): Promise<DeviceKeyPair> {
    return this.#key;
  }

  /**
   * The device's trusted public key, or undefined when the relay does not
   * list the device (offline, unknown or not accessible). Throws RelayError
   * when the device advertises no key or one that is not trusted.
   */
  deviceKey(deviceId: string): Promise<DeviceKeyInfo | undefined> {
    let pending = this.#keys.get(deviceId);
    if (pending === undefined) {
      pending = this.#resolve(deviceId);
      this.#keys.set(deviceId, pending);
      // Neither failures nor absence are remembered.
      pending.then(
        (key) => key === undefined && this.forget(deviceId, pending!),
        () => this.forget(deviceId, pending!),
      );
    }
    return pending;
  }

  /** Drops the remembered key, so the next request looks it up (and checks it) again. */
  forget(deviceId: string, only?: Promise<DeviceKeyInfo | undefined>): void {
    if (only === undefined || this.#keys.get(deviceId) === only) {
      this.#keys.delete(deviceId);
    }
  }

  controllerId(): string {
    if (this.#controllerId !== undefined) return this.#controllerId;
    let subject: unknown;
    try {
      subject = decodeJwt(this.#token).sub;
    } catch {
      subject = undefined;
    }
    if (typeof subject !== "string" || subject === "") {
      throw new RelayError(
        "INVALID_REQUEST",
        "e2e: cannot tell this controller's id from its token (a JWT with sub); pass controllerId, or turn e2e off",
      );
    }
    this.#controllerId = subject;
    return subject;
  }

  /** Request sealing for one ConnectToDevice session. */
  session(deviceId: string): SessionE2e {
    return new SessionE2e(this, deviceId);
  }

  async #resolve(deviceId: string): Promise<DeviceKeyInfo | undefined> {
    // Bounded: a lookup that never answers would hold every later call.
    const devices = await withDeadline(
      this.#listDevices(),
      this.#lookupTimeoutMs,
      {
        onTimeout: () =>
          new RelayError(
            "DEADLINE_EXCEEDED",
            `e2e: looking up the key of device ${deviceId} timed out`,
          ),
      },
    );
    const device = devices.find((info) => info.device_id === deviceId);
    if (device === undefined) return undefined;
    const key = publicKeyFromMetadata(device.metadata);
    if (key === undefined) {
      throw new RelayError(
        "INVALID_REQUEST",
        `e2e: device ${deviceId} advertises no encryption key (metadata ${E2E_METADATA_KEY}); ` +
          "refusing to send it plaintext (turn e2e off for this controller, CLI --plaintext, to do that)",
        { source: "upstream", retryable: false },
      );
    }
    await this.#pinning.verify(deviceId, key);
    return { publicKey: key, sessions: opensSessions(device.metadata) };
  }
}

/** What a session sends, and how it turns the answer back into plaintext. */
export interface PreparedRequest {
  payload: Uint8Array;
  open(response: DeviceResponse): Promise<DeviceResponse>;
}

interface RetryEntry {
  method: string;
  digest: string;
  /** Undefined when the device was not listed. */
  sealed: Promise<SealedRequest | undefined>;
}

export class SessionE2e {
  readonly #e2e: ControllerE2e;
  readonly #deviceId: string;
  readonly #retries = new Map<number, RetryEntry>();
  #session:
    | { deviceKey: Uint8Array; session: Promise<SenderSession> }
    | undefined;
  /** #session once set up: requests are then sealed without waiting. */
  #ready: SenderSession | undefined;

  constructor(e2e: ControllerE2e, deviceId: string) {
    this.#e2e = e2e;
    this.#deviceId = deviceId;
  }

  /**
   * Seals one request. With an explicit sequence number, a retry of the same
   * method and payload reuses the envelope, so the relay's idempotency cache
   * recognises it and its cached answer still opens.
   */
  /**
   * Seals one request at once when this can (a session is set up and fresh,
   * no explicit sequence number); undefined otherwise (use `prepare`).
   */
  prepareNow(
    method: string,
    payload: Uint8Array,
    sequenceNumber?: number,
  ): PreparedRequest | undefined {
    const ready = this.#ready;
    if (ready === undefined || (sequenceNumber ?? 0) !== 0) return undefined;
    if (Date.now() - ready.createdAt >= REKEY_AFTER_MS) return undefined;
    return this.#prepared(ready.seal(method, payload), undefined);
  }

  async prepare(
    method: string,
    payload: Uint8Array,
    sequenceNumber?: number,
  ): Promise<PreparedRequest> {
    // 0 is proto3's "unset": never deduplicated, so each send is a new
    // request with its own envelope (the same one twice is a replay).
    if (sequenceNumber === undefined || sequenceNumber === 0) {
      return this.#prepared(await this.#seal(method, payload), undefined);
    }
    // Looked up and stored synchronously: a duplicate sent right after the
    // first (before it is sealed) must get the same envelope.
    const digest = createHash("sha256").update(payload).digest("base64url");
    const previous = this.#retries.get(sequenceNumber);
    let entry: RetryEntry;
    if (previous?.method === method && previous.digest === digest) {
      entry = previous;
    } else {
      entry = { method, digest, sealed: this.#seal(method, payload) };
      this.#retries.delete(sequenceNumber);
      this.#retries.set(sequenceNumber, entry);
      if (this.#retries.size > RETRY_ENTRIES) {
        this.#retries.delete(this.#retries.keys().next().value!);
      }
    }
    let sealed: SealedRequest | undefined;
    try {
      sealed = await entry.sealed;
    } finally {
      if (sealed === undefined) this.#drop(sequenceNumber, entry);
    }
    return this.#prepared(sealed, sequenceNumber);
  }

  /** Undefined when the device is not listed (no key to seal to). */
  async #seal(
    method: string,
    payload: Uint8Array,
  ): Promise<SealedRequest | undefined> {
    const key = await this.#e2e.deviceKey(this.#deviceId);
    if (key === undefined) return undefined;
    if (key.sessions) {
      return await (await this.#currentSession(key.publicKey)).seal(
        method,
        payload,
      );
    }
    return await sealRequest(key.publicKey, {
      deviceId: this.#deviceId,
      controllerId: this.#e2e.controllerId(),
      method,
    }, payload);
  }

  /** The session to seal with: set up on first use, renewed when old or re-keyed. */
  async #currentSession(deviceKey: Uint8Array): Promise<SenderSession> {
    const current = this.#session;
    if (current !== undefined && sameBytes(current.deviceKey, deviceKey)) {
      const session = await current.session.catch(() => undefined);
      if (session && Date.now() - session.createdAt < REKEY_AFTER_MS) {
        return session;
      }
      if (this.#session !== current) return this.#currentSession(deviceKey);
    }
    const next = {
      deviceKey,
      session: this.#e2e.controllerKey().then((controllerKey) =>
        SenderSession.create(deviceKey, controllerKey, {
          deviceId: this.#deviceId,
          controllerId: this.#e2e.controllerId(),
        })
      ),
    };
    this.#session = next;
    this.#ready = undefined;
    const session = await next.session;
    if (this.#session === next) this.#ready = session;
    return session;
  }

  #prepared(
    sealed: SealedRequest | undefined,
    sequenceNumber: number | undefined,
  ): PreparedRequest {
    if (sealed === undefined) return this.#probe();
    return {
      payload: sealed.envelope,
      open: async (response) => {
        if (response.error !== "OK") {
          this.#failed(response, sequenceNumber);
          // Whatever bytes came with an error were not sealed by the device.
          return { ...response, encrypted_payload: Buffer.alloc(0) };
        }
        const plaintext = await sealed.openResponse(response.encrypted_payload);
        return {
          ...response,
          encrypted_payload: Buffer.from(
            plaintext.buffer,
            plaintext.byteOffset,
            plaintext.byteLength,
          ),
        };
      },
    };
  }

  #drop(sequenceNumber: number, entry: RetryEntry): void {
    if (this.#retries.get(sequenceNumber) === entry) {
      this.#retries.delete(sequenceNumber);
    }
  }

  /** The device is not listed: let the relay say why, without any payload. */
  #probe(): PreparedRequest {
    return {
      payload: KEY_UNKNOWN_PROBE,
      open: (response) => {
        if (response.error !== "OK") return Promise.resolve(response);
        return Promise.reject(
          new RelayError(
            "INVALID_REQUEST",
            `e2e: device ${this.#deviceId} is not listed by the relay, so its encryption key is unknown`,
            { source: "upstream", retryable: false },
          ),
        );
      },
    };
  }

  #failed(response: DeviceResponse, sequenceNumber: number | undefined): void {
    // A failure is not cached by the relay: a retry must be a new request,
    // or the device would refuse it as a replay.
    if (sequenceNumber !== undefined) {
      const entry = this.#retries.get(sequenceNumber);
      if (entry !== undefined) this.#drop(sequenceNumber, entry);
    }
    // The device refused the session (it restarted, or it is too old): the
    // next request sets up a new one.
    if (isSessionRefusal(response)) {
      this.#session = this.#ready = undefined;
      return;
    }
    // The device could not open it: its key may have changed; look again.
    if (response.error_message.startsWith("e2e: request rejected")) {
      this.#e2e.forget(this.#deviceId);
      this.#session = this.#ready = undefined;
    }
  }
}

/** The device refused the request's session, not the request: send it again in a new one. */
export function isSessionRefusal(response: DeviceResponse): boolean {
  return response.error_message.startsWith("e2e: request rejected") &&
    response.error_message.endsWith(NEW_SESSION_HINT);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}
