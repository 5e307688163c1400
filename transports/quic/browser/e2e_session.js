// Envelope version 2, the controller's end, for browsers (docs/e2e.md is the
// spec; src/e2e/session_envelope.ts is the SDK's implementation, and
// e2e_session_test.ts checks that the two interoperate).
//
// Session: HPKE auth mode (RFC 9180), DHKEM(X25519, HKDF-SHA256),
// HKDF-SHA256, AES-128-GCM, from the controller's key to the device's, with
//   info = "relay.v1 e2e session" | lp(device id) | lp(controller id) | u64(created_at)
//   keys = Export("relay.v1 e2e session keys", 56)
//        = request key (16) | request nonce (12) | response key (16) | response nonce (12)
// Request:  "rE2E" 02 01 | enc (32) | controller public key (32)
//           | u64(created_at) | u64(counter) | AES-128-GCM(payload)
//   nonce = request nonce XOR counter, aad = those 86 bytes | lp(method)
// Response: "rE2E" 02 02 | u64(counter) | AES-128-GCM(payload)
//   nonce = response nonce XOR counter, aad = those 14 bytes
//
// Plain JavaScript on WebCrypto and @hpke/core (a bare specifier: the demo
// page maps it to the package files the relay serves under /demo/vendor/;
// Deno maps it with deno.json). No cryptography is implemented here.
import {
  Aes128Gcm,
  CipherSuite,
  DhkemX25519HkdfSha256,
  HkdfSha256,
} from "@hpke/core";
import { RelayClientError } from "./relay_client_error.js";

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes128Gcm(),
});

const MAGIC = [0x72, 0x45, 0x32, 0x45]; // "rE2E"
const VERSION = 0x02;
const KIND_REQUEST = 0x01;
const KIND_RESPONSE = 0x02;
const HEADER_BYTES = 6;
const U64_BYTES = 8;
const TAG_BYTES = 16;
const KEY_BYTES = 16;
const NONCE_BYTES = 12;
const RESPONSE_HEAD_BYTES = HEADER_BYTES + U64_BYTES;
/** Bytes of a raw X25519 public key. */
export const PUBLIC_KEY_BYTES = 32;
const SESSION_INFO = utf8("relay.v1 e2e session");
const KEYS_LABEL = utf8("relay.v1 e2e session keys");
const FINGERPRINT_PREFIX = "SHA256:";

/**
 * The probe a controller sends when the relay does not list the device (no
 * key to seal to): the relay answers it with its own refusal.
 */
export const KEY_UNKNOWN_PROBE = new Uint8Array([...MAGIC, 0x01, 0x03]);

/**
 * @typedef {{
 *   publicKey: Uint8Array,
 *   privateKey: CryptoKey,
 *   fingerprint: string,
 * }} ControllerKey the controller's X25519 key pair (raw public half)
 */

/**
 * A new X25519 key pair whose private half cannot be exported (WebCrypto
 * keeps it), for one page session.
 * @returns {Promise<ControllerKey>}
 */
export async function generateControllerKey() {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, [
    "deriveBits",
  ]);
  return await controllerKeyFrom(pair);
}

/**
 * A caller's key pair as the envelope takes it: a WebCrypto X25519
 * CryptoKeyPair, or `{ publicKey: raw bytes, privateKey: CryptoKey }`.
 * @param {CryptoKeyPair | { publicKey: Uint8Array | ArrayBuffer, privateKey: CryptoKey }} pair
 * @returns {Promise<ControllerKey>}
 */
export async function controllerKeyFrom(pair) {
  const publicKey = pair.publicKey instanceof CryptoKey
    ? new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey))
    : new Uint8Array(pair.publicKey).slice();
  if (
    publicKey.byteLength !== PUBLIC_KEY_BYTES ||
    !(pair.privateKey instanceof CryptoKey) ||
    pair.privateKey.algorithm.name !== "X25519"
  ) {
    throw new RelayClientError(
      "INVALID_REQUEST",
      "e2e: the controller key must be an X25519 key pair",
    );
  }
  return {
    publicKey,
    privateKey: pair.privateKey,
    fingerprint: await fingerprint(publicKey),
  };
}

/**
 * "SHA256:" + base64url(SHA-256(raw public key)), as the CLI prints and pins.
 * @param {Uint8Array} publicKey
 */
export async function fingerprint(publicKey) {
  const digest = await crypto.subtle.digest("SHA-256", copy(publicKey));
  return FINGERPRINT_PREFIX + toBase64Url(new Uint8Array(digest));
}

/** @param {string} text */
export function isFingerprint(text) {
  return typeof text === "string" && text.startsWith(FINGERPRINT_PREFIX) &&
    fromBase64Url(text.slice(FINGERPRINT_PREFIX.length))?.byteLength === 32;
}

/**
 * The controller's end of one session: set up once (the one HPKE operation),
 * then one AES-GCM operation per request and per response.
 */
export class SenderSession {
  #head;
  #keys;
  #counter = 0n;

  /** @private use SenderSession.create */
  constructor(createdAt, head, keys) {
    /** Unix milliseconds, the controller's clock. */
    this.createdAt = createdAt;
    this.#head = head;
    this.#keys = keys;
  }

  /**
   * @param {Uint8Array} devicePublicKey raw X25519 (32 bytes)
   * @param {ControllerKey} controllerKey
   * @param {{ deviceId: string, controllerId: string }} binding
   * @param {number} [createdAt] unix milliseconds
   * @returns {Promise<SenderSession>}
   */
  static async create(
    devicePublicKey,
    controllerKey,
    binding,
    createdAt = Date.now(),
  ) {
    const sender = await suite.createSenderContext({
      recipientPublicKey: await suite.kem.deserializePublicKey(
        copy(devicePublicKey),
      ),
      senderKey: {
        privateKey: controllerKey.privateKey,
        publicKey: await suite.kem.deserializePublicKey(
          copy(controllerKey.publicKey),
        ),
      },
      info: sessionInfo(binding, createdAt),
    });
    const keys = await sessionKeys(
      await sender.export(KEYS_LABEL, 2 * (KEY_BYTES + NONCE_BYTES)),
    );
    const head = concat(
      header(KIND_REQUEST),
      new Uint8Array(sender.enc),
      controllerKey.publicKey,
      u64(BigInt(createdAt)),
    );
    return new SenderSession(createdAt, head, keys);
  }

  /** Requests sealed so far. */
  get counter() {
    return this.#counter;
  }

  /**
   * Seals one request under the next counter.
   * @param {string} method
   * @param {Uint8Array} payload
   * @returns {Promise<{ envelope: Uint8Array, counter: bigint,
   *   openResponse: (envelope: Uint8Array) => Promise<Uint8Array> }>}
   */
  async seal(method, payload) {
    const counter = ++this.#counter;
    const head = concat(this.#head, u64(counter));
    const ciphertext = await crypto.subtle.encrypt(
      {
        name: "AES-GCM",
        iv: nonceFor(this.#keys.requestNonce, counter),
        additionalData: concat(head, lengthPrefixed(method)),
      },
      this.#keys.request,
      copy(payload),
    );
    const keys = this.#keys;
    return {
      envelope: concat(head, new Uint8Array(ciphertext)),
      counter,
      openResponse: (envelope) => openResponse(keys, counter, envelope),
    };
  }
}

/**
 * Opens the answer to request `counter`; throws RelayClientError when it does not.
 * @param {Uint8Array} envelope
 */
async function openResponse(keys, counter, envelope) {
  const bytes = envelope instanceof Uint8Array
    ? envelope
    : new Uint8Array(envelope ?? []);
  if (
    bytes.byteLength < HEADER_BYTES ||
    MAGIC.some((byte, i) => bytes[i] !== byte) ||
    bytes[4] !== VERSION || bytes[5] !== KIND_RESPONSE
  ) {
    throw responseRejected("not an encrypted response");
  }
  if (bytes.byteLength < RESPONSE_HEAD_BYTES + TAG_BYTES) {
    throw responseRejected("truncated");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  if (view.getBigUint64(HEADER_BYTES) !== counter) {
    throw responseRejected("it answers another request");
  }
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: nonceFor(keys.responseNonce, counter),
          additionalData: copy(bytes.subarray(0, RESPONSE_HEAD_BYTES)),
        },
        keys.response,
        copy(bytes.subarray(RESPONSE_HEAD_BYTES)),
      ),
    );
  } catch {
    throw responseRejected("tampered, or not sealed for this request");
  }
}

function responseRejected(reason) {
  return new RelayClientError(
    "INTERNAL_ERROR",
    `e2e: response rejected: ${reason}`,
  );
}

async function sessionKeys(exported) {
  const bytes = new Uint8Array(exported);
  const aesKey = (from) =>
    crypto.subtle.importKey(
      "raw",
      bytes.slice(from, from + KEY_BYTES),
      "AES-GCM",
      false,
      ["encrypt", "decrypt"],
    );
  const responseAt = KEY_BYTES + NONCE_BYTES;
  return {
    request: await aesKey(0),
    requestNonce: bytes.slice(KEY_BYTES, responseAt),
    response: await aesKey(responseAt),
    responseNonce: bytes.slice(responseAt + KEY_BYTES),
  };
}

function sessionInfo({ deviceId, controllerId }, createdAt) {
  return concat(
    SESSION_INFO,
    lengthPrefixed(deviceId),
    lengthPrefixed(controllerId),
    u64(BigInt(createdAt)),
  );
}

/** base nonce XOR counter, the counter big-endian in the last 8 bytes. */
function nonceFor(base, counter) {
  const nonce = copy(base);
  const view = new DataView(nonce.buffer);
  const at = NONCE_BYTES - U64_BYTES;
  view.setBigUint64(at, view.getBigUint64(at) ^ counter);
  return nonce;
}

function header(kind) {
  return new Uint8Array([...MAGIC, VERSION, kind]);
}

function u64(value) {
  const bytes = new Uint8Array(U64_BYTES);
  new DataView(bytes.buffer).setBigUint64(0, value);
  return bytes;
}

function lengthPrefixed(text) {
  const bytes = utf8(text);
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, bytes.byteLength);
  return concat(length, bytes);
}

function utf8(text) {
  return new TextEncoder().encode(text);
}

/** A copy backed by its own ArrayBuffer. */
function copy(bytes) {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(
    parts.reduce((total, part) => total + part.byteLength, 0),
  );
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** @param {Uint8Array} bytes */
export function toBase64Url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

/**
 * Strict base64url (no padding, no other alphabet); undefined when malformed.
 * @param {string} text
 * @returns {Uint8Array | undefined}
 */
export function fromBase64Url(text) {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) {
    return undefined;
  }
  let bytes;
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return undefined; // not base64 at all (a length of 4n + 1)
  }
  return toBase64Url(bytes) === text ? bytes : undefined;
}
