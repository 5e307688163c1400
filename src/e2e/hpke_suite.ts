// The one HPKE (RFC 9180) cipher suite of the end-to-end payload encryption,
// from the maintained @hpke/core library, plus the encodings shared by the
// envelope, key and pinning modules. No cryptography is implemented here.
import { Buffer } from "node:buffer";
import {
  Aes128Gcm,
  CipherSuite,
  DhkemX25519HkdfSha256,
  HkdfSha256,
} from "@hpke/core";

/** DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM (all on WebCrypto). */
export const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes128Gcm(),
});

/** Bytes of an X25519 public key, and of the KEM's encapsulated key `enc`. */
export const PUBLIC_KEY_BYTES = 32;

/** Prefix of the fingerprints the SDK and CLI print and pin. */
export const FINGERPRINT_PREFIX = "SHA256:";

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString("base64url");
}

/** Strict base64url (no padding, no other alphabet); undefined when malformed. */
export function fromBase64Url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const bytes = new Uint8Array(Buffer.from(text, "base64url"));
  return toBase64Url(bytes) === text ? bytes : undefined;
}

/** "SHA256:" + base64url(SHA-256(raw public key)), as SSH prints host keys. */
export async function fingerprint(publicKey: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", copy(publicKey));
  return FINGERPRINT_PREFIX + toBase64Url(new Uint8Array(digest));
}

/** True for a well-formed fingerprint ("SHA256:" and 43 base64url characters). */
export function isFingerprint(text: string): boolean {
  if (!text.startsWith(FINGERPRINT_PREFIX)) return false;
  return fromBase64Url(text.slice(FINGERPRINT_PREFIX.length))?.byteLength ===
    32;
}

/** A copy backed by its own ArrayBuffer (what WebCrypto's types ask for). */
export function copy(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
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

const encoder = new TextEncoder();

export const utf8 = (text: string): Uint8Array<ArrayBuffer> =>
  encoder.encode(text) as Uint8Array<ArrayBuffer>;
