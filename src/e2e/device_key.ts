// The device's long-lived X25519 key pair: generated, stored as a JWK file
// with mode 0600, and advertised (public half only) in the register metadata.
import { dirname } from "node:path";
import { RelayError } from "../errors/relay_error.ts";
import {
  fingerprint,
  fromBase64Url,
  PUBLIC_KEY_BYTES,
  suite,
  toBase64Url,
  utf8,
} from "./hpke_suite.ts";

/** Prefix of the register metadata keys of end-to-end encryption (not labels). */
export const E2E_METADATA_PREFIX = "e2e.";
/** Register metadata key carrying base64url(raw X25519 public key). */
export const E2E_METADATA_KEY = "e2e.x25519";
/** Register metadata key listing the envelope versions a device opens ("1,2"). */
export const E2E_VERSIONS_METADATA_KEY = "e2e.versions";

export interface DeviceKeyPair {
  /** Raw X25519 public key (32 bytes). */
  readonly publicKey: Uint8Array;
  readonly privateKey: CryptoKey;
  /** "SHA256:..." of the public key. */
  readonly fingerprint: string;
}

/** The JWK (RFC 8037) a key file holds. */
interface X25519Jwk {
  kty: "OKP";
  crv: "X25519";
  x: string;
  d: string;
}

export async function generateDeviceKey(): Promise<DeviceKeyPair> {
  const pair = await suite.kem.generateKeyPair();
  const publicKey = new Uint8Array(
    await suite.kem.serializePublicKey(pair.publicKey),
  );
  return {
    publicKey,
    privateKey: pair.privateKey,
    fingerprint: await fingerprint(publicKey),
  };
}

/** Imports a key pair from raw bytes and checks that the halves belong together. */
export async function importDeviceKey(
  publicKey: Uint8Array,
  privateKey: Uint8Array,
): Promise<DeviceKeyPair> {
  const pair: DeviceKeyPair = {
    publicKey: publicKey.slice(),
    privateKey: await suite.kem.deserializePrivateKey(privateKey.slice()),
    fingerprint: await fingerprint(publicKey),
  };
  // A sealed probe opens only when the private key matches the public one.
  const probe = utf8("relay e2e key check");
  const sealed = await suite.seal(
    { recipientPublicKey: await suite.kem.deserializePublicKey(publicKey) },
    probe,
  );
  const opened = await suite.open(
    { recipientKey: pair.privateKey, enc: sealed.enc },
    sealed.ct,
  ).catch(() => undefined);
  if (
    opened === undefined ||
    toBase64Url(new Uint8Array(opened)) !== toBase64Url(probe)
  ) {
    throw new Error("key halves do not match");
  }
  return pair;
}

export async function deviceKeyToJwk(key: DeviceKeyPair): Promise<X25519Jwk> {
  const d = new Uint8Array(await suite.kem.serializePrivateKey(key.privateKey));
  return {
    kty: "OKP",
    crv: "X25519",
    x: toBase64Url(key.publicKey),
    d: toBase64Url(d),
  };
}

export async function deviceKeyFromJwk(value: unknown): Promise<DeviceKeyPair> {
  const jwk = value as Partial<X25519Jwk> | null;
  const x = typeof jwk?.x === "string" ? fromBase64Url(jwk.x) : undefined;
  const d = typeof jwk?.d === "string" ? fromBase64Url(jwk.d) : undefined;
  if (
    jwk?.kty !== "OKP" || jwk.crv !== "X25519" ||
    x?.byteLength !== PUBLIC_KEY_BYTES || d?.byteLength !== PUBLIC_KEY_BYTES
  ) {
    throw new Error('expected an X25519 JWK {"kty":"OKP","crv":"X25519",x,d}');
  }
  return await importDeviceKey(x, d);
}

/**
 * Loads the key file, or creates it (directory 0700, file 0600) with a new
 * key pair when it does not exist. A file readable by others is refused.
 */
export async function loadOrCreateDeviceKeyFile(
  path: string,
): Promise<{ key: DeviceKeyPair; created: boolean }> {
  let text: string;
  try {
    const info = await Deno.stat(path);
    if (info.mode !== null && (info.mode & 0o077) !== 0) {
      throw new RelayError(
        "INVALID_REQUEST",
        `e2e key file ${path} is accessible by others (mode ${
          (info.mode & 0o777).toString(8)
        }); run chmod 600 ${path}`,
      );
    }
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    const key = await generateDeviceKey();
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const json = JSON.stringify(await deviceKeyToJwk(key), null, 2) + "\n";
    await Deno.writeTextFile(path, json, { mode: 0o600, createNew: true });
    return { key, created: true };
  }
  try {
    return { key: await deviceKeyFromJwk(JSON.parse(text)), created: false };
  } catch (error) {
    throw new RelayError(
      "INVALID_REQUEST",
      `e2e key file ${path} is not a valid key: ${(error as Error).message}`,
    );
  }
}

/** The metadata entries a device advertises its public key and envelope versions with. */
export function publicKeyMetadata(key: DeviceKeyPair): Record<string, string> {
  return {
    [E2E_METADATA_KEY]: toBase64Url(key.publicKey),
    [E2E_VERSIONS_METADATA_KEY]: "1,2",
  };
}

/** Whether a device says it opens session envelopes (version 2). */
export function opensSessions(metadata: Record<string, string>): boolean {
  return (metadata[E2E_VERSIONS_METADATA_KEY] ?? "").split(",").includes("2");
}

/**
 * The public key a device advertises: undefined when it advertises none;
 * throws when the entry is not a 32-byte base64url key.
 */
export function publicKeyFromMetadata(
  metadata: Record<string, string>,
): Uint8Array | undefined {
  const value = metadata[E2E_METADATA_KEY];
  if (value === undefined || value === "") return undefined;
  const key = fromBase64Url(value);
  if (key?.byteLength !== PUBLIC_KEY_BYTES) {
    throw new RelayError(
      "INVALID_REQUEST",
      `e2e: metadata ${E2E_METADATA_KEY} is not a base64url X25519 public key`,
      { source: "upstream" },
    );
  }
  return key;
}
