// AES-128-GCM for the per-request layer of session envelopes, through
// node:crypto (Deno's built-in, synchronous): about 5 us per 64 B request
// here against about 40 us through WebCrypto's crypto.subtle, whose per-call
// overhead dominated a session request's cost (measured for issue 19, see
// docs/benchmarks.md "End-to-end encryption"). The browser client uses
// WebCrypto; the bytes are the same.
import { Buffer } from "node:buffer";
import { createCipheriv, createDecipheriv } from "node:crypto";

export const TAG_BYTES = 16;

/**
 * Seals `plaintext` into `out` at `offset`: ciphertext, then the tag
 * (`out` has exactly plaintext + TAG_BYTES bytes from `offset`).
 */
export function sealAesGcmInto(
  key: Buffer,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  const cipher = createCipheriv("aes-128-gcm", key, nonce);
  cipher.setAAD(aad);
  let at = offset;
  for (const part of [cipher.update(plaintext), cipher.final()]) {
    out.set(part, at);
    at += part.byteLength;
  }
  out.set(cipher.getAuthTag(), at);
}

/** The plaintext of ciphertext-then-tag; throws when the tag does not verify. */
export function openAesGcm(
  key: Buffer,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array {
  if (sealed.byteLength < TAG_BYTES) throw new Error("shorter than a tag");
  const end = sealed.byteLength - TAG_BYTES;
  const decipher = createDecipheriv("aes-128-gcm", key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(end));
  const head = decipher.update(sealed.subarray(0, end));
  const tail = decipher.final();
  return tail.byteLength === 0 ? head : Buffer.concat([head, tail]);
}

/** A key as node:crypto takes it without converting it on every call. */
export function aesKey(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes);
}
