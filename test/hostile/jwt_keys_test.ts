// Hostile input against asymmetric controller JWT verification: keys from
// relay.auth.jwt.public_keys (algorithm pinned per key) and from a JWKS URL.
// Valid tokens signed with the configured private keys are accepted; tokens
// signed with other keys, other algorithms or the public key as an HMAC
// secret (algorithm confusion) are refused.
import { exportPKCS8, importPKCS8, SignJWT } from "jose";
import {
  type AsymmetricAlg,
  claims,
  hs256,
  publicJwk,
  type SigningKey,
  signingKey,
  signWith,
  TOLERANT,
} from "./forged_tokens.ts";
import { type CaseSetup, hostileTest } from "./hostile_case.ts";
import { assertStillServes } from "./still_serves.ts";
import { assertTokenAccepted, assertTokenRefused } from "./token_outcomes.ts";

const TARGET = "jwt-target";

/** Writes the key's public PEM and returns the relay.auth.jwt.public_keys entry. */
async function configureKey(setup: CaseSetup, key: SigningKey) {
  const path = `${setup.scratchDir}/${key.kid}.pem`;
  await Deno.writeTextFile(path, key.publicPem);
  return { path, alg: key.alg, kid: key.kid };
}

const operatorClaims = (sub: string) =>
  claims({ sub, role: "operator", projects: ["default"] });

for (
  const alg of ["ES256", "RS256", "EdDSA"] as const satisfies AsymmetricAlg[]
) {
  let key: SigningKey;
  let stranger: SigningKey;
  hostileTest(
    `asymmetric jwt: a valid ${alg} token signed with the configured key is accepted, another key's is not`,
    {
      config: TOLERANT,
      prepare: async (setup) => {
        key = await signingKey(alg, `${alg.toLowerCase()}-1`);
        // Same algorithm and kid, different key pair.
        stranger = await signingKey(alg, key.kid);
        return {
          "relay.auth.jwt.public_keys": [await configureKey(setup, key)],
        };
      },
    },
    async (t) => {
      await t.device(TARGET);
      await assertTokenAccepted(
        t,
        await signWith(key, operatorClaims(`idp-${alg}`)),
        TARGET,
      );
      await assertTokenRefused(
        t,
        await signWith(stranger, operatorClaims(`idp-${alg}`)),
        TARGET,
        /invalid controller token/,
      );
      await assertStillServes(t);
    },
  );
}

for (const alg of ["RS256", "ES256"] as const satisfies AsymmetricAlg[]) {
  let key: SigningKey;
  hostileTest(
    `forged jwt: HS256 signed with the configured ${alg} public key (algorithm confusion)`,
    {
      config: TOLERANT,
      prepare: async (setup) => {
        key = await signingKey(alg, `${alg.toLowerCase()}-pub`);
        return {
          "relay.auth.jwt.public_keys": [await configureKey(setup, key)],
        };
      },
    },
    async (t) => {
      await t.device(TARGET);
      const forged = [
        await hs256(key.publicPem, claims(), { kid: key.kid }),
        await hs256(key.publicPem, claims()),
        await hs256(key.publicPem.trim(), claims(), { kid: key.kid }),
      ];
      for (const token of forged) {
        await assertTokenRefused(t, token, TARGET, /invalid controller token/);
      }
      // The key is really in use: its genuine tokens are accepted.
      await assertTokenAccepted(
        t,
        await signWith(key, operatorClaims("idp-genuine")),
        TARGET,
      );
      await assertStillServes(t);
    },
  );
}

{
  let key: SigningKey;
  let pssKey: Parameters<SignJWT["sign"]>[0];
  hostileTest(
    "asymmetric jwt: the algorithm and kid are pinned per configured key",
    {
      config: TOLERANT,
      prepare: async (setup) => {
        key = await signingKey("RS256", "pinned-rs256");
        // The same RSA private key, usable for PS256.
        pssKey = await importPKCS8(await exportPKCS8(key.privateKey), "PS256");
        return {
          "relay.auth.jwt.public_keys": [await configureKey(setup, key)],
        };
      },
    },
    async (t) => {
      await t.device(TARGET);
      const samePrivateKeyOtherAlg = await new SignJWT(claims())
        .setProtectedHeader({ alg: "PS256", kid: key.kid, typ: "JWT" })
        .sign(pssKey);
      await assertTokenRefused(
        t,
        samePrivateKeyOtherAlg,
        TARGET,
        /invalid controller token/,
      );
      await assertTokenRefused(
        t,
        await signWith(key, claims(), { kid: "some-other-kid" }),
        TARGET,
        /invalid controller token/,
      );
      await assertTokenAccepted(
        t,
        await signWith(key, operatorClaims("idp-pinned")),
        TARGET,
      );
      await assertStillServes(t);
    },
  );
}

{
  let es256: SigningKey;
  let rs256: SigningKey;
  let stranger: SigningKey;
  let fetches = 0;
  hostileTest(
    "jwks: tokens are verified with the keys served at relay.auth.jwt.jwks_url",
    {
      config: TOLERANT,
      prepare: async (setup) => {
        es256 = await signingKey("ES256", "jwks-es256");
        rs256 = await signingKey("RS256", "jwks-rs256");
        stranger = await signingKey("ES256", "jwks-stranger");
        const jwks = { keys: [await publicJwk(es256), await publicJwk(rs256)] };
        fetches = 0;
        const server = Deno.serve(
          { hostname: "127.0.0.1", port: 0, onListen: () => {} },
          () => {
            fetches++;
            return Response.json(jwks);
          },
        );
        setup.defer(() => server.shutdown());
        return {
          "relay.auth.jwt.jwks_url":
            `http://127.0.0.1:${server.addr.port}/.well-known/jwks.json`,
        };
      },
    },
    async (t) => {
      await t.device(TARGET);
      await assertTokenAccepted(
        t,
        await signWith(es256, operatorClaims("jwks-es")),
        TARGET,
      );
      await assertTokenAccepted(
        t,
        await signWith(rs256, operatorClaims("jwks-rs")),
        TARGET,
      );
      // A key that is not in the set, with its own kid or a known one.
      await assertTokenRefused(
        t,
        await signWith(stranger, claims()),
        TARGET,
        /invalid controller token/,
      );
      await assertTokenRefused(
        t,
        await signWith(stranger, claims(), { kid: es256.kid }),
        TARGET,
        /invalid controller token/,
      );
      // Algorithm confusion with a JWKS key as the HMAC secret.
      await assertTokenRefused(
        t,
        await hs256(es256.publicPem, claims(), { kid: es256.kid }),
        TARGET,
        /invalid controller token/,
      );
      if (fetches === 0) throw new Error("the relay never fetched the JWKS");
      await assertStillServes(t);
    },
  );
}
