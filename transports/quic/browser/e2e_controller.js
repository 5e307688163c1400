// End-to-end encryption for the browser client, as the SDK's controller does
// it (src/e2e/controller_e2e.ts, src/e2e/key_pinning.ts): each device's key
// comes from ListOnlineDevices metadata and is checked against the pins or
// the known keys (trust on first use, remembered in localStorage); requests
// are sealed in version 2 sessions (docs/e2e.md) authenticated with this
// page's key, one per device session, renewed every REKEY_AFTER_MS and after
// the device refuses a stale one. A device that cannot open version 2 is
// refused, unless the caller allowed plaintext for such devices.
import { RelayClientError } from "./relay_client_error.js";
import {
  controllerKeyFrom,
  fingerprint,
  fromBase64Url,
  generateControllerKey,
  isFingerprint,
  KEY_UNKNOWN_PROBE,
  PUBLIC_KEY_BYTES,
  SenderSession,
} from "./e2e_session.js";

/** A session is renewed after this long (the SDK's REKEY_AFTER_MS). */
export const REKEY_AFTER_MS = 60_000;
/** How a device's refusal of a stale session ends (the SDK's NEW_SESSION_HINT). */
export const NEW_SESSION_HINT = "the controller starts a new one";
const REJECTED = "e2e: request rejected";
const KEY_METADATA = "e2e.x25519";
const VERSIONS_METADATA = "e2e.versions";
const LOOKUP_TIMEOUT_MS = 30_000;
const KNOWN_KEY_PREFIX = "relay.e2e.known-key:";

/**
 * @typedef {{
 *   get(deviceId: string): string | undefined | Promise<string | undefined>,
 *   set(deviceId: string, fingerprint: string): void | Promise<void>,
 *   description?: string,
 * }} KnownKeyStore where trusted device fingerprints are remembered
 */

/**
 * @typedef {{
 *   key?: CryptoKeyPair | import("./e2e_session.js").ControllerKey,
 *   controllerId?: string,
 *   pins?: Record<string, string>,
 *   knownKeys?: KnownKeyStore,
 *   trustOnFirstUse?: boolean,
 *   onFirstUse?: (deviceId: string, fingerprint: string) => void,
 *   plaintext?: boolean,
 * }} E2eOptions
 */

/** Known keys in the page's localStorage (one entry per device id). */
export class LocalStorageKnownKeys {
  description = "this browser's localStorage (relay.e2e.known-key:<device>)";
  #storage;

  /** @param {Storage} storage */
  constructor(storage) {
    this.#storage = storage;
  }

  get(deviceId) {
    return this.#storage.getItem(KNOWN_KEY_PREFIX + deviceId) ?? undefined;
  }

  set(deviceId, value) {
    this.#storage.setItem(KNOWN_KEY_PREFIX + deviceId, value);
  }
}

/** Known keys for this page only (where localStorage is unavailable). */
export class MemoryKnownKeys {
  description = "this page's in-memory known keys";
  #keys = new Map();

  get(deviceId) {
    return this.#keys.get(deviceId);
  }

  set(deviceId, value) {
    this.#keys.set(deviceId, value);
  }
}

function defaultKnownKeys() {
  try {
    if (globalThis.localStorage) {
      return new LocalStorageKnownKeys(globalThis.localStorage);
    }
  } catch (error) {
    // A page without storage access (sandboxed, opaque origin): memory.
    void error;
  }
  return new MemoryKnownKeys();
}

/**
 * The `sub` of a JWT (the controller id the relay stamps on requests); the
 * token is only decoded here, the relay verifies it.
 * @param {string} token
 */
export function controllerIdFromToken(token) {
  let subject;
  try {
    const payload = String(token).split(".")[1] ?? "";
    const bytes = fromBase64Url(payload.replace(/=+$/, ""));
    subject = bytes && JSON.parse(new TextDecoder().decode(bytes)).sub;
  } catch (error) {
    void error; // not JSON: reported below as no usable sub
  }
  if (typeof subject !== "string" || subject === "") {
    throw new RelayClientError(
      "INVALID_REQUEST",
      "e2e: cannot tell this controller's id from its token (a JWT with sub); pass controllerId",
    );
  }
  return subject;
}

/** The end-to-end state of one relay connection: its key, the device keys. */
export class ControllerE2e {
  #options;
  #token;
  #listDevices;
  #key;
  #keys = new Map();
  #known;
  #pins;

  /**
   * @param {E2eOptions} options
   * @param {string} token
   * @param {() => Promise<any[]>} listDevices ListOnlineDevices
   */
  constructor(options, token, listDevices) {
    for (const [deviceId, pin] of Object.entries(options.pins ?? {})) {
      if (!isFingerprint(pin)) {
        throw new RelayClientError(
          "INVALID_REQUEST",
          `e2e: pin for ${deviceId} is not a fingerprint like SHA256:<43 base64url characters>`,
        );
      }
    }
    this.#options = { ...options }; // controllerId is filled in below
    this.#pins = new Map(Object.entries(options.pins ?? {}));
    this.#known = options.knownKeys ?? defaultKnownKeys();
    this.#token = token;
    this.#listDevices = listDevices;
    this.#key = options.key
      ? controllerKeyFrom(options.key)
      : generateControllerKey();
    // Reported to whoever needs the key (every sealed call), not unhandled.
    this.#key.catch(() => undefined);
  }

  /** This page's key pair (the HPKE sender key), with its fingerprint. */
  controllerKey() {
    return this.#key;
  }

  controllerId() {
    this.#options.controllerId ??= controllerIdFromToken(this.#token);
    return this.#options.controllerId;
  }

  /**
   * The device's trusted key: { publicKey, fingerprint } when it opens
   * version 2; { plaintext: true } when it cannot and plaintext is allowed;
   * undefined when the relay does not list it. Throws RelayClientError when
   * the key is not trusted, or the device cannot open version 2.
   * @param {string} deviceId
   */
  deviceKey(deviceId) {
    let pending = this.#keys.get(deviceId);
    if (pending === undefined) {
      pending = this.#resolve(deviceId);
      this.#keys.set(deviceId, pending);
      // Neither failures nor absence are remembered.
      pending.then(
        (key) => key === undefined && this.forget(deviceId, pending),
        () => this.forget(deviceId, pending),
      );
    }
    return pending;
  }

  /** Drops the remembered key: the next request looks it up and checks it again. */
  forget(deviceId, only) {
    if (only === undefined || this.#keys.get(deviceId) === only) {
      this.#keys.delete(deviceId);
    }
  }

  /** Sealing for one device session. */
  session(deviceId) {
    return new SessionE2e(this, deviceId);
  }

  async #resolve(deviceId) {
    const devices = await withTimeout(
      this.#listDevices(),
      LOOKUP_TIMEOUT_MS,
      `e2e: looking up the key of device ${deviceId} timed out`,
    );
    const device = devices.find((info) => info.device_id === deviceId);
    if (device === undefined) return undefined;
    const metadata = device.metadata ?? {};
    const encoded = metadata[KEY_METADATA];
    const versions = String(metadata[VERSIONS_METADATA] ?? "").split(",")
      .map((version) => version.trim());
    if (!encoded || !versions.includes("2")) {
      if (this.#options.plaintext === true) return { plaintext: true };
      throw new RelayClientError(
        "INVALID_REQUEST",
        `e2e: device ${deviceId} ${
          encoded
            ? `does not open envelope version 2 (metadata ${VERSIONS_METADATA}=${
              metadata[VERSIONS_METADATA] ?? ""
            })`
            : `advertises no encryption key (metadata ${KEY_METADATA})`
        }; refusing to send it plaintext (pass plaintext: true to allow that)`,
      );
    }
    const publicKey = fromBase64Url(encoded);
    if (publicKey?.byteLength !== PUBLIC_KEY_BYTES) {
      throw new RelayClientError(
        "INVALID_REQUEST",
        `e2e: device ${deviceId}: metadata ${KEY_METADATA} is not a base64url X25519 public key`,
      );
    }
    return {
      publicKey,
      fingerprint: await this.#verify(deviceId, publicKey),
    };
  }

  /** The pin, else the known key, else trust on first use (as the CLI). */
  async #verify(deviceId, publicKey) {
    const offered = await fingerprint(publicKey);
    const pinned = this.#pins.get(deviceId);
    if (pinned !== undefined) {
      if (pinned === offered) return offered;
      throw changed(deviceId, offered, `${pinned} is pinned`, "update the pin");
    }
    const known = await this.#known.get(deviceId);
    if (known === offered) return offered;
    if (known !== undefined) {
      throw changed(
        deviceId,
        offered,
        `${known} was trusted on first use`,
        `remove ${deviceId} from ${
          this.#known.description ?? "the known keys"
        } or pin the new key`,
      );
    }
    if (this.#options.trustOnFirstUse === false) {
      throw new RelayClientError(
        "UNAUTHORIZED",
        `e2e: device ${deviceId} offers key ${offered}, which is not pinned; pin it to trust it`,
      );
    }
    await this.#known.set(deviceId, offered);
    this.#options.onFirstUse?.(deviceId, offered);
    return offered;
  }
}

/** Sealing for one device session: its current session, renewed as needed. */
class SessionE2e {
  #e2e;
  #deviceId;
  #session; // { deviceKey, session: Promise<SenderSession> }

  constructor(e2e, deviceId) {
    this.#e2e = e2e;
    this.#deviceId = deviceId;
  }

  /**
   * What to send for one request, and how to read its answer.
   * @param {string} method
   * @param {Uint8Array} payload
   * @returns {Promise<{ payload: Uint8Array, encrypted: boolean,
   *   open(response: any): Promise<Uint8Array> }>} `open` resolves with the
   *   answer's plaintext, or throws RelayClientError for an error answer.
   */
  async prepare(method, payload) {
    const key = await this.#e2e.deviceKey(this.#deviceId);
    if (key === undefined) return this.#probe();
    if (key.plaintext) {
      return {
        payload,
        encrypted: false,
        open: (response) =>
          response.error === "OK"
            ? Promise.resolve(response.encrypted_payload)
            : Promise.reject(errorOf(response)),
      };
    }
    const session = await this.#current(key.publicKey);
    const sealed = await session.seal(method, payload);
    return {
      payload: sealed.envelope,
      encrypted: true,
      open: (response) => {
        if (response.error !== "OK") {
          this.#failed(response);
          return Promise.reject(errorOf(response));
        }
        return sealed.openResponse(response.encrypted_payload);
      },
    };
  }

  /** The session to seal with: set up on first use, renewed when old or re-keyed. */
  async #current(deviceKey) {
    const current = this.#session;
    if (current !== undefined && sameBytes(current.deviceKey, deviceKey)) {
      const session = await current.session.catch(() => undefined);
      if (session && Date.now() - session.createdAt < REKEY_AFTER_MS) {
        return session;
      }
      if (this.#session !== current) return await this.#current(deviceKey);
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
    return await next.session;
  }

  #failed(response) {
    const message = response.error_message ?? "";
    if (!message.startsWith(REJECTED)) return;
    // A refused session (device restarted, session too old): a new one next.
    this.#session = undefined;
    // Anything else the device could not open: its key may have changed.
    if (!isSessionRefusal(response)) this.#e2e.forget(this.#deviceId);
  }

  /** The relay does not list the device: let it say why, with no payload. */
  #probe() {
    return {
      payload: KEY_UNKNOWN_PROBE,
      encrypted: false,
      open: (response) =>
        Promise.reject(
          response.error !== "OK" ? errorOf(response) : new RelayClientError(
            "INVALID_REQUEST",
            `e2e: device ${this.#deviceId} is not listed by the relay, so its encryption key is unknown`,
          ),
        ),
    };
  }
}

/** The device refused the request's session, not the request: resend it in a new one. */
export function isSessionRefusal(response) {
  const message = response?.error_message ?? "";
  return message.startsWith(REJECTED) && message.endsWith(NEW_SESSION_HINT);
}

function errorOf(response) {
  return new RelayClientError(
    response.error,
    response.error_message || response.error,
  );
}

function changed(deviceId, offered, trusted, remedy) {
  return new RelayClientError(
    "UNAUTHORIZED",
    `e2e: device ${deviceId} offers key ${offered} but ${trusted}; refusing ` +
      `(the relay or the device may be compromised; if the device really has a new key, ${remedy})`,
  );
}

function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new RelayClientError("DEADLINE_EXCEEDED", message)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sameBytes(a, b) {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}
