// The encrypted payload envelopes carried in `encrypted_payload`.
//
// Request (controller -> device): HPKE base mode (RFC 9180) sealed to the
// device's X25519 public key.
//   header "rE2E" 0x01 0x01 | enc (32) | HPKE ciphertext
//   info = "relay.v1 e2e request"
//   aad  = header | device id | controller id | method name (u32-length-prefixed UTF-8)
//   plaintext = sealed-at unix ms (u64 big-endian) | payload
// Response (device -> controller), as Oblivious HTTP responses (RFC 9458 4.4):
//   header "rE2E" 0x01 0x02 | response_nonce (16) | AES-128-GCM ciphertext
//   secret = HPKE Export("relay.v1 e2e response", 16) of the request context
//   key, nonce = HKDF-SHA256(salt = enc | response_nonce, ikm = secret, info = "key" / "nonce")
//   aad = header
// A response therefore opens only under the request it answers.
import { type ErrorCode, RelayError } from "../errors/relay_error.ts";
import type { DeviceKeyPair } from "./device_key.ts";
import { concat, copy, PUBLIC_KEY_BYTES, suite, utf8 } from "./hpke_suite.ts";

const MAGIC = [0x72, 0x45, 0x32, 0x45]; // "rE2E"
const VERSION = 0x01;
const HEADER_BYTES = 6;
const TIMESTAMP_BYTES = 8;
const RESPONSE_NONCE_BYTES = 16; // max(Nn, Nk) of AES-128-GCM
const AES_KEY_BYTES = 16;
const AES_NONCE_BYTES = 12;
const REQUEST_INFO = utf8("relay.v1 e2e request");
const RESPONSE_LABEL = utf8("relay.v1 e2e response");

const KIND = { request: 0x01, response: 0x02, keyUnknown: 0x03 } as const;
export type EnvelopeKind = "request" | "response" | "key-unknown" | "other";

/** What a request is bound to besides its payload (all visible to the relay). */
export interface RequestBinding {
  deviceId: string;
  controllerId: string;
  method: string;
}

export interface SealedRequest {
  readonly envelope: Uint8Array;
  /** Opens the response to this request; throws RelayError when it does not open. */
  openResponse(envelope: Uint8Array): Promise<Uint8Array>;
}

export interface OpenedRequest {
  readonly payload: Uint8Array;
  /** When the controller sealed it (its clock, unix ms). */
  readonly sealedAt: number;
  /** The HPKE encapsulated key: unique per request, the replay-cache key. */
  readonly enc: Uint8Array;
  /** Seals the response so only this request's sender can open it. */
  sealResponse(payload: Uint8Array): Promise<Uint8Array>;
}

/**
 * Sent instead of a request when the controller found no key for the device
 * (not listed): no payload, so the relay answers with its own error (device
 * not found, offline, not accessible), and a device refuses it.
 */
export const KEY_UNKNOWN_PROBE: Uint8Array = header(KIND.keyUnknown);

/** Which envelope `bytes` is; undefined for anything without the "rE2E" magic. */
export function envelopeKind(bytes: Uint8Array): EnvelopeKind | undefined {
  if (bytes.byteLength < HEADER_BYTES) return undefined;
  if (MAGIC.some((byte, index) => bytes[index] !== byte)) return undefined;
  if (bytes[4] !== VERSION) return "other";
  switch (bytes[5]) {
    case KIND.request:
      return "request";
    case KIND.response:
      return "response";
    case KIND.keyUnknown:
      return "key-unknown";
    default:
      return "other";
  }
}

export async function sealRequest(
  devicePublicKey: Uint8Array,
  binding: RequestBinding,
  payload: Uint8Array,
  sealedAt: number = Date.now(),
): Promise<SealedRequest> {
  const head = header(KIND.request);
  const sender = await suite.createSenderContext({
    recipientPublicKey: await suite.kem.deserializePublicKey(
      copy(devicePublicKey),
    ),
    info: REQUEST_INFO,
  });
  const stamp = new Uint8Array(TIMESTAMP_BYTES);
  new DataView(stamp.buffer).setBigUint64(0, BigInt(sealedAt));
  const ciphertext = await sender.seal(
    concat(stamp, payload),
    requestAad(head, binding),
  );
  const enc = new Uint8Array(sender.enc);
  const secret = await sender.export(RESPONSE_LABEL, AES_KEY_BYTES);
  return {
    envelope: concat(head, enc, new Uint8Array(ciphertext)),
    async openResponse(envelope) {
      if (envelopeKind(envelope) !== "response") {
        throw responseRejected("not an encrypted response");
      }
      const minimum = HEADER_BYTES + RESPONSE_NONCE_BYTES + 16;
      if (envelope.byteLength < minimum) {
        throw responseRejected("truncated");
      }
      const nonce = envelope.subarray(
        HEADER_BYTES,
        HEADER_BYTES + RESPONSE_NONCE_BYTES,
      );
      const aead = await responseAead(secret, enc, nonce, "decrypt");
      try {
        return new Uint8Array(
          await crypto.subtle.decrypt(
            {
              name: "AES-GCM",
              iv: aead.nonce,
              additionalData: copy(envelope.subarray(0, HEADER_BYTES)),
            },
            aead.key,
            copy(envelope.subarray(HEADER_BYTES + RESPONSE_NONCE_BYTES)),
          ),
        );
      } catch {
        throw responseRejected("tampered, or not sealed for this request");
      }
    },
  };
}

/** Opens a request envelope; throws RelayError INVALID_REQUEST ("e2e: ...") when it does not open. */
export async function openRequest(
  key: DeviceKeyPair,
  binding: RequestBinding,
  envelope: Uint8Array,
): Promise<OpenedRequest> {
  const kind = envelopeKind(envelope);
  if (kind === "key-unknown") {
    throw requestRejected(
      "the controller had no public key for this device (it was not listed); retry",
    );
  }
  if (kind !== "request") {
    throw requestRejected(
      kind === undefined ? "not encrypted" : "unsupported envelope version",
    );
  }
  if (envelope.byteLength < HEADER_BYTES + PUBLIC_KEY_BYTES + 16) {
    throw requestRejected("truncated envelope");
  }
  const head = envelope.subarray(0, HEADER_BYTES);
  const enc = envelope.slice(HEADER_BYTES, HEADER_BYTES + PUBLIC_KEY_BYTES);
  let context;
  let plaintext: Uint8Array;
  try {
    context = await suite.createRecipientContext({
      recipientKey: key.privateKey,
      enc: copy(enc),
      info: REQUEST_INFO,
    });
    plaintext = new Uint8Array(
      await context.open(
        copy(envelope.subarray(HEADER_BYTES + PUBLIC_KEY_BYTES)),
        requestAad(head, binding),
      ),
    );
  } catch {
    throw requestRejected(
      "cannot decrypt (tampered, re-addressed, or sealed to another key)",
    );
  }
  if (plaintext.byteLength < TIMESTAMP_BYTES) {
    throw requestRejected("no timestamp");
  }
  const sealedAt = Number(
    new DataView(plaintext.buffer, plaintext.byteOffset).getBigUint64(0),
  );
  const secret = await context.export(RESPONSE_LABEL, AES_KEY_BYTES);
  return {
    payload: plaintext.subarray(TIMESTAMP_BYTES),
    sealedAt,
    enc,
    async sealResponse(payload) {
      const head = header(KIND.response);
      const nonce = crypto.getRandomValues(
        new Uint8Array(RESPONSE_NONCE_BYTES),
      );
      const aead = await responseAead(secret, enc, nonce, "encrypt");
      const ciphertext = await crypto.subtle.encrypt(
        { name: "AES-GCM", iv: aead.nonce, additionalData: head },
        aead.key,
        copy(payload),
      );
      return concat(head, nonce, new Uint8Array(ciphertext));
    },
  };
}

/** RelayError a device answers a request it refuses with. */
export function requestRejected(
  reason: string,
  code: ErrorCode = "INVALID_REQUEST",
): RelayError {
  return new RelayError(code, `e2e: request rejected: ${reason}`, {
    source: "downstream",
  });
}

/** RelayError the controller throws for a response it cannot accept. */
export function responseRejected(reason: string): RelayError {
  return new RelayError("INTERNAL_ERROR", `e2e: response rejected: ${reason}`, {
    source: "upstream",
    retryable: false,
  });
}

function header(kind: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array([...MAGIC, VERSION, kind]);
}

function requestAad(
  head: Uint8Array,
  binding: RequestBinding,
): Uint8Array<ArrayBuffer> {
  const fields = [binding.deviceId, binding.controllerId, binding.method].map(
    (field) => {
      const bytes = utf8(field);
      const length = new Uint8Array(4);
      new DataView(length.buffer).setUint32(0, bytes.byteLength);
      return concat(length, bytes);
    },
  );
  return concat(head, ...fields);
}

async function responseAead(
  secret: ArrayBuffer,
  enc: Uint8Array,
  responseNonce: Uint8Array,
  usage: "encrypt" | "decrypt",
): Promise<{ key: CryptoKey; nonce: Uint8Array<ArrayBuffer> }> {
  const ikm = await crypto.subtle.importKey("raw", secret, "HKDF", false, [
    "deriveBits",
  ]);
  const salt = concat(enc, responseNonce);
  const expand = async (info: string, bytes: number) =>
    await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt, info: utf8(info) },
      ikm,
      bytes * 8,
    );
  const key = await crypto.subtle.importKey(
    "raw",
    await expand("key", AES_KEY_BYTES),
    "AES-GCM",
    false,
    [usage],
  );
  return {
    key,
    nonce: new Uint8Array(await expand("nonce", AES_NONCE_BYTES)),
  };
}
