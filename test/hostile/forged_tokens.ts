// Controller JWTs as an attacker (or a real identity provider) would make
// them: any algorithm, any key, any claims, minted with jose.
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWTPayload,
  SignJWT,
  UnsecuredJWT,
} from "jose";
import type { TestRelay } from "../harness.ts";
import { decodeBase64Url } from "./base64url.ts";

/** jose's key type (node:crypto's webcrypto CryptoKey). */
type JoseKey = Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

export type AsymmetricAlg = "ES256" | "RS256" | "EdDSA";

export interface SigningKey {
  alg: AsymmetricAlg;
  kid: string;
  privateKey: JoseKey;
  publicKey: JoseKey;
  /** SPKI PEM of the public key, as an operator would configure it. */
  publicPem: string;
}

export async function signingKey(
  alg: AsymmetricAlg,
  kid = `${alg.toLowerCase()}-key`,
): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === "RS256" ? { modulusLength: 2048 } : {}),
  });
  return {
    alg,
    kid,
    privateKey,
    publicKey,
    publicPem: await exportSPKI(publicKey),
  };
}

/** The key's public half as a JWKS entry (alg, kid and use set). */
export async function publicJwk(key: SigningKey) {
  return {
    ...await exportJWK(key.publicKey),
    alg: key.alg,
    kid: key.kid,
    use: "sig",
  };
}

/**
 * Config for cases that send many refused tokens from one address on
 * purpose: blocking of the address (failure_blocking_test.ts) must not mask
 * the refusal under test.
 */
export const TOLERANT = { "relay.auth.max_failures_per_address": 1000 };

/** The relay's default issuer and audience (relay.auth.jwt.*). */
export const ISSUER = "grpc-relay";
export const AUDIENCE = "grpc-relay-controller";

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * Claims of a well-formed controller token; `overrides` replace them, and a
 * claim set to `undefined` is left out.
 */
export function claims(
  overrides: Record<string, unknown> = {},
): JWTPayload {
  const base: Record<string, unknown> = {
    sub: "forged-controller",
    role: "admin",
    projects: ["default"],
    iss: ISSUER,
    aud: AUDIENCE,
    iat: nowSeconds(),
    exp: nowSeconds() + 600,
    jti: crypto.randomUUID(),
    ...overrides,
  };
  for (const [key, value] of Object.entries(base)) {
    if (value === undefined) delete base[key];
  }
  return base as JWTPayload;
}

export const inSeconds = (seconds: number): number => nowSeconds() + seconds;

/** HS256 with an arbitrary secret (the relay's own, a guess, a public key's PEM...). */
export function hs256(
  secret: string | Uint8Array,
  payload: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  const key = typeof secret === "string"
    ? new TextEncoder().encode(secret)
    : secret;
  return new SignJWT(payload)
    .setProtectedHeader({ ...header, alg: "HS256", typ: "JWT" })
    .sign(key);
}

/** A token signed with an asymmetric key; `kid` from the key unless overridden. */
export function signWith(
  key: SigningKey,
  payload: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header })
    .sign(key.privateKey);
}

/** `alg: none`: no signature at all. */
export function unsigned(payload: JWTPayload): string {
  return new UnsecuredJWT(payload).encode();
}

/** The relay's HS256 secret, read from its state directory. */
export async function relaySecret(t: TestRelay): Promise<string> {
  return (await Deno.readTextFile(t.relay.paths.jwtSecret)).trim();
}

/** The `jti` claim of a JWT (no verification: the test minted it). */
export function jtiOf(token: string): string {
  return String(JSON.parse(decodeBase64Url(token.split(".")[1] ?? "")).jti);
}
