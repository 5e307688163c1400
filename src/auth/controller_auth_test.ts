import assert from "node:assert/strict";
import {
  ControllerAuthenticator,
  type JwtSettings,
  mintControllerToken,
} from "./controller_auth.ts";
import { JwtKeys } from "./jwt_keys.ts";

const settings: JwtSettings = {
  secret: "a-test-secret-of-at-least-32-characters!",
  issuer: "grpc-relay",
  audience: "grpc-relay-controller",
  clockSkewSeconds: 0,
};

Deno.test("expired tokens leave the cache as time passes, though never used again", async () => {
  let now = Date.now();
  const auth = new ControllerAuthenticator({
    keys: new JwtKeys({ hs256Secret: settings.secret, publicKeys: [] }),
    issuer: settings.issuer,
    audience: settings.audience,
    clockSkewSeconds: 0,
    isRevoked: () => false,
    now: () => now,
  });
  const mint = (id: string, ttlSeconds: number) =>
    mintControllerToken(settings, {
      controllerId: id,
      role: "admin",
      ttlSeconds,
    });
  const shortLived = await mint("short", 60);
  const longLived = await mint("long", 3600);
  await auth.verify(shortLived);
  await auth.verify(longLived);
  assert.equal(auth.cached, 2);

  // Used again within its life, the short-lived token stays cached.
  now += 30_000;
  await auth.verify(longLived);
  assert.equal(auth.cached, 2);

  // Past its expiry, the next verification of any token scans it out.
  now += 60_000;
  await auth.verify(longLived);
  assert.equal(auth.cached, 1);
  // Not from the cache: jose itself checks the expiry now.
  await assert.rejects(auth.verify(shortLived), /"exp" claim/);
});
