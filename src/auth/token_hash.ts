// Tokens are identified by their SHA-256 (hex): revocation lists, audit
// records and the device store never hold a usable credential.
import { createHash, timingSafeEqual } from "node:crypto";

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function isTokenHash(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}

/** Constant-time comparison of two hex digests of equal length. */
export function digestsEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(
    new TextEncoder().encode(a),
    new TextEncoder().encode(b),
  );
}
