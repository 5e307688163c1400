// A guessable HS256 secret lets anyone mint admin tokens, so outside dev mode
// the relay refuses to start with one.
import { RelayError } from "../errors/relay_error.ts";

const MIN_SECRET_BYTES = 32;
const MIN_DISTINCT_CHARACTERS = 12;
/** Placeholders seen in sample configs (compared case-insensitively, as substrings). */
const PLACEHOLDERS = [
  "secret",
  "changeme",
  "change-me",
  "change_me",
  "password",
  "example",
  "default",
  "your-",
  "placeholder",
];

/** Why `secret` is weak, or undefined when it is acceptable. */
export function weakSecretReason(secret: string): string | undefined {
  const bytes = new TextEncoder().encode(secret).byteLength;
  if (bytes < MIN_SECRET_BYTES) {
    return `shorter than ${MIN_SECRET_BYTES} bytes`;
  }
  if (new Set(secret).size < MIN_DISTINCT_CHARACTERS) {
    return `fewer than ${MIN_DISTINCT_CHARACTERS} distinct characters`;
  }
  const lower = secret.toLowerCase();
  const placeholder = PLACEHOLDERS.find((word) => lower.includes(word));
  if (placeholder !== undefined) {
    return `contains the placeholder word "${placeholder}"`;
  }
  return undefined;
}

export function assertStrongSecret(
  secret: string,
  where: string,
  devMode: boolean,
): void {
  const reason = weakSecretReason(secret);
  if (reason === undefined || devMode) return;
  throw new RelayError(
    "INVALID_REQUEST",
    `${where}: weak HS256 secret (${reason}); use at least ${MIN_SECRET_BYTES} random bytes (e.g. openssl rand -base64 48), or set relay.dev_mode: true for local experiments`,
  );
}
