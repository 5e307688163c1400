// Envelope version 2: one HPKE setup per controller-device session, then one
// AEAD operation per request and per response (docs/e2e.md is the spec).
//
// Session: HPKE auth mode (RFC 9180 5.1.3), DHKEM(X25519), HKDF-SHA256,
// AES-128-GCM, from the controller's static key to the device's, with
//   info = "relay.v1 e2e session" | lp(device id) | lp(controller id) | created_at (u64 BE)
//   keys = Export("relay.v1 e2e session keys", 56)
//        = request key (16) | request nonce (12) | response key (16) | response nonce (12)
// so the session's keys exist only for those two parties, at that time, and
// opening anything under them proves the controller's private key sealed it.
// Request:  "rE2E" 0x02 0x01 | enc (32) | controller public key (32)
//           | created_at (8) | counter (8) | AES-128-GCM ciphertext
//   nonce = request nonce XOR counter (in its last 8 bytes)
//   aad   = the 86 bytes before the ciphertext | lp(method)
// Response: "rE2E" 0x02 0x02 | counter (8) | AES-128-GCM ciphertext
//   nonce = response nonce XOR counter, aad = the 14 bytes before it
// Every request carries what sets its session up, so any request (the first
// to arrive of a pipelined burst, one after a device restart) opens alone;
// the device keeps each session's keys and a window of counters seen.
// lp(x) = u32 BE length | UTF-8 bytes.
import type { DeviceKeyPair } from "./device_key.ts";
import { requestRejected, responseRejected } from "./envelope.ts";
import { Buffer } from "node:buffer";
import { aesKey, openAesGcm, sealAesGcmInto, TAG_BYTES } from "./aes_gcm.ts";
import { concat, copy, PUBLIC_KEY_BYTES, suite, utf8 } from "./hpke_suite.ts";

export const SESSION_VERSION = 0x02;
const MAGIC = [0x72, 0x45, 0x32, 0x45]; // "rE2E"
const KIND = { request: 0x01, response: 0x02 } as const;
const HEADER_BYTES = 6;
const U64_BYTES = 8;
/** header | enc | controller key | created_at | counter */
const REQUEST_HEAD_BYTES = HEADER_BYTES + 2 * PUBLIC_KEY_BYTES + 2 * U64_BYTES;
const RESPONSE_HEAD_BYTES = HEADER_BYTES + U64_BYTES;
const KEY_BYTES = 16;
const NONCE_BYTES = 12;
const SESSION_INFO = utf8("relay.v1 e2e session");
const KEYS_LABEL = utf8("relay.v1 e2e session keys");

/** The parties a session is between (both visible to the relay). */
export interface SessionBinding {
  deviceId: string;
  controllerId: string;
}

/** A key pair able to act as HPKE sender or recipient (X25519). */
export type E2eKeyPair = DeviceKeyPair;

interface SessionKeys {
  request: Buffer;
  requestNonce: Uint8Array;
  response: Buffer;
  responseNonce: Uint8Array;
}

export interface SealedSessionRequest {
  readonly envelope: Uint8Array;
  readonly counter: bigint;
  /** Opens the answer to this request; throws RelayError when it does not open. */
  openResponse(envelope: Uint8Array): Promise<Uint8Array>;
}

/** The controller's end of one session. */
export class SenderSession {
  readonly createdAt: number;
  readonly #head: Uint8Array; // header | enc | controller key | created_at
  readonly #keys: SessionKeys;
  #counter = 0n;

  private constructor(createdAt: number, head: Uint8Array, keys: SessionKeys) {
    this.createdAt = createdAt;
    this.#head = head;
    this.#keys = keys;
  }

  /** Sets a session up: the one HPKE operation of the session. */
  static async create(
    devicePublicKey: Uint8Array,
    controllerKey: E2eKeyPair,
    binding: SessionBinding,
    createdAt: number = Date.now(),
  ): Promise<SenderSession> {
    const sender = await suite.createSenderContext({
      recipientPublicKey: await suite.kem.deserializePublicKey(
        copy(devicePublicKey),
      ),
      senderKey: await senderKeyPair(controllerKey),
      info: sessionInfo(binding, createdAt),
    });
    const keys = sessionKeys(
      await sender.export(KEYS_LABEL, 2 * (KEY_BYTES + NONCE_BYTES)),
    );
    const head = concat(
      header(KIND.request),
      new Uint8Array(sender.enc),
      controllerKey.publicKey,
      u64(BigInt(createdAt)),
    );
    return new SenderSession(createdAt, head, keys);
  }

  /** Requests sealed so far. */
  get counter(): bigint {
    return this.#counter;
  }

  /** Seals one request (synchronous: one AES-GCM operation). */
  seal(method: string, payload: Uint8Array): SealedSessionRequest {
    const counter = ++this.#counter;
    const envelope = new Uint8Array(
      REQUEST_HEAD_BYTES + payload.byteLength + TAG_BYTES,
    );
    envelope.set(this.#head);
    new DataView(envelope.buffer).setBigUint64(
      REQUEST_HEAD_BYTES - U64_BYTES,
      counter,
    );
    sealAesGcmInto(
      this.#keys.request,
      nonceFor(this.#keys.requestNonce, counter),
      requestAad(envelope, method),
      payload,
      envelope,
      REQUEST_HEAD_BYTES,
    );
    const keys = this.#keys;
    return {
      envelope,
      counter,
      openResponse: (answer) =>
        settled(() => openResponse(keys, counter, answer)),
    };
  }
}

/** What a device learns from a request envelope before it opens it. */
export interface SessionRequestHead {
  /** The HPKE encapsulated key: names the session. */
  enc: Uint8Array;
  controllerPublicKey: Uint8Array;
  createdAt: number;
  counter: bigint;
}

/** Reads a version 2 request's clear fields; throws RelayError when malformed. */
export function parseSessionRequest(envelope: Uint8Array): SessionRequestHead {
  if (envelope.byteLength < REQUEST_HEAD_BYTES + TAG_BYTES) {
    throw requestRejected("truncated envelope");
  }
  const view = new DataView(
    envelope.buffer,
    envelope.byteOffset,
    envelope.byteLength,
  );
  const keysAt = HEADER_BYTES;
  return {
    enc: envelope.subarray(keysAt, keysAt + PUBLIC_KEY_BYTES),
    controllerPublicKey: envelope.subarray(
      keysAt + PUBLIC_KEY_BYTES,
      keysAt + 2 * PUBLIC_KEY_BYTES,
    ),
    createdAt: Number(view.getBigUint64(keysAt + 2 * PUBLIC_KEY_BYTES)),
    counter: view.getBigUint64(keysAt + 2 * PUBLIC_KEY_BYTES + U64_BYTES),
  };
}

/** What names a request's session: its enc and controller key, side by side. */
export function sessionIdOf(envelope: Uint8Array): Uint8Array {
  return envelope.subarray(HEADER_BYTES, HEADER_BYTES + 2 * PUBLIC_KEY_BYTES);
}

/** The device's end of one session, once set up. */
export class ReceiverSession {
  readonly createdAt: number;
  readonly controllerPublicKey: Uint8Array;
  readonly #keys: SessionKeys;

  private constructor(
    createdAt: number,
    controllerPublicKey: Uint8Array,
    keys: SessionKeys,
  ) {
    this.createdAt = createdAt;
    this.controllerPublicKey = controllerPublicKey;
    this.#keys = keys;
  }

  /**
   * Sets up the session a request names: the one HPKE operation of the
   * session on this side. Throws RelayError INVALID_REQUEST when the request
   * was not sealed by the holder of the key it names, for this device.
   */
  static async accept(
    deviceKey: E2eKeyPair,
    binding: SessionBinding,
    head: SessionRequestHead,
  ): Promise<ReceiverSession> {
    try {
      const recipient = await suite.createRecipientContext({
        recipientKey: deviceKey.privateKey,
        enc: copy(head.enc),
        senderPublicKey: await suite.kem.deserializePublicKey(
          copy(head.controllerPublicKey),
        ),
        info: sessionInfo(binding, head.createdAt),
      });
      const keys = sessionKeys(
        await recipient.export(KEYS_LABEL, 2 * (KEY_BYTES + NONCE_BYTES)),
      );
      return new ReceiverSession(
        head.createdAt,
        head.controllerPublicKey.slice(),
        keys,
      );
    } catch {
      throw requestRejected("cannot set up its session (malformed keys)");
    }
  }

  /** Opens one request of this session; throws RelayError when it does not open. */
  open(envelope: Uint8Array, method: string, counter: bigint): Uint8Array {
    try {
      return openAesGcm(
        this.#keys.request,
        nonceFor(this.#keys.requestNonce, counter),
        requestAad(envelope, method),
        envelope.subarray(REQUEST_HEAD_BYTES),
      );
    } catch {
      throw requestRejected(
        "cannot decrypt (tampered, re-addressed, not sealed by the key it names, or sealed to another key)",
      );
    }
  }

  /** Seals the answer to request `counter`. */
  sealResponse(counter: bigint, payload: Uint8Array): Uint8Array {
    const envelope = new Uint8Array(
      RESPONSE_HEAD_BYTES + payload.byteLength + TAG_BYTES,
    );
    envelope.set(RESPONSE_HEADER);
    new DataView(envelope.buffer).setBigUint64(HEADER_BYTES, counter);
    sealAesGcmInto(
      this.#keys.response,
      nonceFor(this.#keys.responseNonce, counter),
      envelope.subarray(0, RESPONSE_HEAD_BYTES),
      payload,
      envelope,
      RESPONSE_HEAD_BYTES,
    );
    return envelope;
  }
}

/** Which kind of version 2 envelope `bytes` is, if it is one. */
export function sessionEnvelopeKind(
  bytes: Uint8Array,
): "request" | "response" | undefined {
  if (bytes.byteLength < HEADER_BYTES) return undefined;
  if (MAGIC.some((byte, index) => bytes[index] !== byte)) return undefined;
  if (bytes[4] !== SESSION_VERSION) return undefined;
  if (bytes[5] === KIND.request) return "request";
  if (bytes[5] === KIND.response) return "response";
  return undefined;
}

function openResponse(
  keys: SessionKeys,
  counter: bigint,
  envelope: Uint8Array,
): Uint8Array {
  if (sessionEnvelopeKind(envelope) !== "response") {
    throw responseRejected("not an encrypted response");
  }
  if (envelope.byteLength < RESPONSE_HEAD_BYTES + TAG_BYTES) {
    throw responseRejected("truncated");
  }
  const view = new DataView(envelope.buffer, envelope.byteOffset);
  if (view.getBigUint64(HEADER_BYTES) !== counter) {
    throw responseRejected("it answers another request");
  }
  try {
    return openAesGcm(
      keys.response,
      nonceFor(keys.responseNonce, counter),
      envelope.subarray(0, RESPONSE_HEAD_BYTES),
      envelope.subarray(RESPONSE_HEAD_BYTES),
    );
  } catch {
    throw responseRejected("tampered, or not sealed for this request");
  }
}

/** `fn`'s result, or its exception, as a promise. */
export function settled<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

function sessionKeys(exported: ArrayBuffer): SessionKeys {
  const bytes = new Uint8Array(exported);
  const responseAt = KEY_BYTES + NONCE_BYTES;
  return {
    request: aesKey(bytes.subarray(0, KEY_BYTES)),
    requestNonce: bytes.slice(KEY_BYTES, responseAt),
    response: aesKey(bytes.subarray(responseAt, responseAt + KEY_BYTES)),
    responseNonce: bytes.slice(responseAt + KEY_BYTES),
  };
}

/** The sender's key as the HPKE library takes it (public half imported). */
async function senderKeyPair(key: E2eKeyPair): Promise<CryptoKeyPair> {
  return {
    privateKey: key.privateKey,
    publicKey: await suite.kem.deserializePublicKey(copy(key.publicKey)),
  };
}

function sessionInfo(
  binding: SessionBinding,
  createdAt: number,
): Uint8Array<ArrayBuffer> {
  return concat(
    SESSION_INFO,
    lengthPrefixed(binding.deviceId),
    lengthPrefixed(binding.controllerId),
    u64(BigInt(createdAt)),
  );
}

/** A request's AAD: its head (header to counter) and the method it calls. */
function requestAad(envelope: Uint8Array, method: string): Uint8Array {
  const name = utf8(method);
  const aad = new Uint8Array(REQUEST_HEAD_BYTES + 4 + name.byteLength);
  aad.set(envelope.subarray(0, REQUEST_HEAD_BYTES));
  new DataView(aad.buffer).setUint32(REQUEST_HEAD_BYTES, name.byteLength);
  aad.set(name, REQUEST_HEAD_BYTES + 4);
  return aad;
}

/** base nonce XOR counter, the counter big-endian in the last 8 bytes. */
function nonceFor(base: Uint8Array, counter: bigint): Buffer {
  // A Buffer: node:crypto would convert anything else on every call.
  const nonce = Buffer.from(base);
  const at = NONCE_BYTES - U64_BYTES;
  nonce.writeBigUInt64BE(nonce.readBigUInt64BE(at) ^ counter, at);
  return nonce;
}

const RESPONSE_HEADER = header(KIND.response);

function header(kind: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array([...MAGIC, SESSION_VERSION, kind]);
}

function u64(value: bigint): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(U64_BYTES);
  new DataView(bytes.buffer).setBigUint64(0, value);
  return bytes;
}

function lengthPrefixed(text: string): Uint8Array<ArrayBuffer> {
  const bytes = utf8(text);
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, bytes.byteLength);
  return concat(length, bytes);
}
