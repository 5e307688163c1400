// Hostile input: forged controller JWTs against the relay's HS256 secret
// (wrong key, no signature, expired, wrong audience/issuer, not yet valid,
// required claims missing). Every refusal is UNAUTHORIZED on both surfaces.
import { encodeBase64Url } from "./base64url.ts";
import {
  AUDIENCE,
  claims,
  hs256,
  inSeconds,
  ISSUER,
  relaySecret,
  TOLERANT,
  unsigned,
} from "./forged_tokens.ts";
import assert from "node:assert/strict";
import type { RelayError } from "../../src/errors/relay_error.ts";
import { decode, encode } from "../harness.ts";
import { hostileTest, PLAINTEXT, sleep } from "./hostile_case.ts";
import { assertStillServes } from "./still_serves.ts";
import { assertTokenAccepted, assertTokenRefused } from "./token_outcomes.ts";

const TARGET = "jwt-target";
const SKEW = { ...TOLERANT, "relay.auth.jwt.clock_skew_seconds": 5 };

hostileTest("forged jwt: wrong HS256 key", { config: TOLERANT }, async (t) => {
  await t.device(TARGET);
  const guessed = await hs256("not-the-relay-secret", claims());
  await assertTokenRefused(t, guessed, TARGET, /invalid controller token/);
  // The relay's secret with a flipped signature bit is no better.
  const genuine = await hs256(await relaySecret(t), claims());
  const [header, payload, signature] = genuine.split(".");
  const flipped = signature!.startsWith("A")
    ? `B${signature!.slice(1)}`
    : `A${signature!.slice(1)}`;
  await assertTokenRefused(
    t,
    `${header}.${payload}.${flipped}`,
    TARGET,
    /invalid controller token/,
  );
  await assertStillServes(t);
});

hostileTest("forged jwt: alg none", { config: TOLERANT }, async (t) => {
  await t.device(TARGET);
  await assertTokenRefused(
    t,
    unsigned(claims()),
    TARGET,
    /invalid controller token/,
  );
  // Spelling variants, and a "none" token that still carries a signature.
  const payload = encodeBase64Url(JSON.stringify(claims()));
  const genuine = await hs256(await relaySecret(t), claims());
  for (const alg of ["None", "NONE", "nOnE"]) {
    const header = encodeBase64Url(JSON.stringify({ alg, typ: "JWT" }));
    await assertTokenRefused(
      t,
      `${header}.${payload}.`,
      TARGET,
      /invalid controller token/,
    );
  }
  const noneHeader = encodeBase64Url(
    JSON.stringify({ alg: "none", typ: "JWT" }),
  );
  await assertTokenRefused(
    t,
    `${noneHeader}.${payload}.${genuine.split(".")[2]}`,
    TARGET,
    /invalid controller token/,
  );
  await assertStillServes(t);
});

hostileTest("forged jwt: expired", { config: SKEW }, async (t) => {
  await t.device(TARGET);
  const secret = await relaySecret(t);
  for (const exp of [inSeconds(-60), inSeconds(-6)]) {
    const expired = await hs256(secret, claims({ iat: inSeconds(-600), exp }));
    await assertTokenRefused(t, expired, TARGET, /expired|"exp"/);
  }
  await assertStillServes(t);
});

hostileTest(
  "forged jwt: wrong aud and wrong iss",
  { config: TOLERANT },
  async (t) => {
    await t.device(TARGET);
    const secret = await relaySecret(t);
    await assertTokenRefused(
      t,
      await hs256(secret, claims({ aud: "some-other-service" })),
      TARGET,
      /"aud"/,
    );
    await assertTokenRefused(
      t,
      await hs256(secret, claims({ aud: [`${AUDIENCE}-x`, "other"] })),
      TARGET,
      /"aud"/,
    );
    await assertTokenRefused(
      t,
      await hs256(secret, claims({ iss: "https://evil.example" })),
      TARGET,
      /"iss"/,
    );
    await assertTokenRefused(
      t,
      await hs256(secret, claims({ iss: `${ISSUER} ` })),
      TARGET,
      /"iss"/,
    );
    await assertStillServes(t);
  },
);

hostileTest(
  "forged jwt: nbf in the future beyond the clock skew",
  { config: SKEW },
  async (t) => {
    await t.device(TARGET);
    const secret = await relaySecret(t);
    for (const nbf of [inSeconds(60), inSeconds(7)]) {
      await assertTokenRefused(
        t,
        await hs256(secret, claims({ nbf })),
        TARGET,
        /"nbf"/,
      );
    }
    await assertStillServes(t);
  },
);

// The other side of the two cases above: within
// relay.auth.jwt.clock_skew_seconds a token is valid on both surfaces, and
// a stream opened with it stays open (it is not closed as expired at once).
hostileTest(
  "clock skew: a token just expired or not yet valid within clock_skew_seconds is accepted",
  { config: SKEW },
  async (t) => {
    await t.device(TARGET);
    const secret = await relaySecret(t);
    const tokens = {
      "nbf 2 s ahead": await hs256(secret, claims({ nbf: inSeconds(2) })),
      "exp 2 s ago": await hs256(
        secret,
        claims({ iat: inSeconds(-600), exp: inSeconds(-2) }),
      ),
    };
    for (const [what, token] of Object.entries(tokens)) {
      const session = t.controller(token, PLAINTEXT).openSession(TARGET);
      await sleep(100); // the stream is open; is it still, a moment later?
      const reply = await session.call("echo", encode(what)).catch((
        error: RelayError,
      ) =>
        assert.fail(`${what}: stream closed: ${error.code}: ${error.message}`)
      );
      assert.equal(decode(reply), what);
      await assertTokenAccepted(t, token, TARGET);
    }
    await assertStillServes(t);
  },
);

hostileTest(
  "forged jwt: missing required claims",
  { config: TOLERANT },
  async (t) => {
    await t.device(TARGET);
    const secret = await relaySecret(t);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ role: undefined }, /role/],
      [{ role: "superuser" }, /role/],
      [{ sub: undefined }, /"sub"/],
      [{ exp: undefined }, /"exp"/],
    ];
    for (const [override, reason] of cases) {
      await assertTokenRefused(
        t,
        await hs256(secret, claims(override)),
        TARGET,
        reason,
      );
    }
    await assertStillServes(t);
  },
);
