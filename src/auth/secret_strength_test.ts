import assert from "node:assert/strict";
import { assertStrongSecret, weakSecretReason } from "./secret_strength.ts";
import { randomBase64Url } from "../store/relay_store.ts";

Deno.test("weak HS256 secrets are recognised with the reason", () => {
  assert.match(weakSecretReason("short")!, /shorter than 32 bytes/);
  assert.match(weakSecretReason("a".repeat(64))!, /distinct characters/);
  assert.match(
    weakSecretReason("my-super-secret-key-for-the-relay-2026!")!,
    /placeholder word "secret"/,
  );
  assert.equal(weakSecretReason(randomBase64Url(32)), undefined);
});

Deno.test("a weak secret stops the start outside dev mode only", () => {
  assert.throws(
    () => assertStrongSecret("changeme", "relay.auth.jwt.hs256_secret", false),
    /relay\.auth\.jwt\.hs256_secret: weak HS256 secret \(shorter than 32 bytes\)/,
  );
  assertStrongSecret("changeme", "relay.auth.jwt.hs256_secret", true);
});
