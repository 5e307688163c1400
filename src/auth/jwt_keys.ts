// Verification keys for controller JWTs. Each key is pinned to one algorithm:
// the HS256 secret only verifies HS256, a PEM key only its configured
// algorithm, JWKS keys only asymmetric algorithms. That rules out `alg: none`
// and HS/RS confusion (an attacker "signing" HS256 with a public key).
import {
  createRemoteJWKSet,
  type CryptoKey,
  importSPKI,
  importX509,
  type JWSHeaderParameters,
  type KeyObject,
} from "jose";
import type { RelayConfig } from "../config/config_schema.ts";
import { RelayError } from "../errors/relay_error.ts";

type VerifyKey = CryptoKey | KeyObject | Uint8Array;
type Jwks = ReturnType<typeof createRemoteJWKSet>;

interface PinnedKey {
  alg: string;
  kid: string;
  key: VerifyKey;
}

export interface JwtKeySettings {
  hs256Secret: string;
  publicKeys: readonly PinnedKey[];
  jwks?: { set: Jwks; algorithms: readonly string[] };
}

export class JwtKeys {
  readonly #hmac: Uint8Array;
  readonly #publicKeys: readonly PinnedKey[];
  readonly #jwks: JwtKeySettings["jwks"];
  /** Every algorithm some key accepts; passed to jose as the allow-list. */
  readonly algorithms: readonly string[];

  constructor(settings: JwtKeySettings) {
    this.#hmac = new TextEncoder().encode(settings.hs256Secret);
    this.#publicKeys = settings.publicKeys;
    this.#jwks = settings.jwks;
    this.algorithms = [
      ...new Set([
        "HS256",
        ...settings.publicKeys.map((key) => key.alg),
        ...(settings.jwks?.algorithms ?? []),
      ]),
    ];
  }

  /** jose key resolver: the key for this token's header, or an error saying why none. */
  resolve = (header: JWSHeaderParameters): VerifyKey | Promise<VerifyKey> => {
    if (header.alg === "HS256") return this.#hmac;
    const matching = this.#publicKeys.find((key) =>
      key.alg === header.alg && (key.kid === "" || key.kid === header.kid)
    );
    if (matching !== undefined) return matching.key;
    const jwks = this.#jwks;
    if (jwks !== undefined && jwks.algorithms.includes(header.alg ?? "")) {
      return jwks.set(header);
    }
    throw new RelayError(
      "UNAUTHORIZED",
      `no verification key for alg ${header.alg}${
        header.kid ? ` kid ${header.kid}` : ""
      }`,
      { source: "downstream" },
    );
  };
}

/** Reads the configured PEM keys and sets up the JWKS fetcher. */
export async function loadJwtKeys(
  jwt: RelayConfig["relay"]["auth"]["jwt"],
  hs256Secret: string,
): Promise<JwtKeys> {
  const publicKeys: PinnedKey[] = [];
  for (const [index, entry] of jwt.public_keys.entries()) {
    const where = `relay.auth.jwt.public_keys[${index}]`;
    let pem: string;
    try {
      pem = await Deno.readTextFile(entry.path);
    } catch (error) {
      throw new RelayError(
        "INVALID_REQUEST",
        `${where}: cannot read ${entry.path}`,
        { cause: error },
      );
    }
    try {
      const key = pem.includes("BEGIN CERTIFICATE")
        ? await importX509(pem, entry.alg)
        : await importSPKI(pem, entry.alg);
      publicKeys.push({ alg: entry.alg, kid: entry.kid, key });
    } catch (error) {
      throw new RelayError(
        "INVALID_REQUEST",
        `${where}: ${entry.path} is not a ${entry.alg} public key or certificate (${
          (error as Error).message
        })`,
      );
    }
  }
  let jwks: JwtKeySettings["jwks"];
  if (jwt.jwks_url !== "") {
    let url: URL;
    try {
      url = new URL(jwt.jwks_url);
    } catch {
      throw new RelayError(
        "INVALID_REQUEST",
        `relay.auth.jwt.jwks_url: not a URL: ${jwt.jwks_url}`,
      );
    }
    jwks = {
      set: createRemoteJWKSet(url, {
        cacheMaxAge: jwt.jwks_cache_seconds * 1000,
        timeoutDuration: 5000,
      }),
      algorithms: jwt.jwks_algorithms.length > 0
        ? jwt.jwks_algorithms
        : ["ES256", "ES384", "RS256", "PS256", "EdDSA"],
    };
  }
  return new JwtKeys({
    hs256Secret,
    publicKeys,
    ...(jwks ? { jwks } : {}),
  });
}
