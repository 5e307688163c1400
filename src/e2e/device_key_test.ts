import assert from "node:assert/strict";
import { join } from "node:path";
import { RelayError } from "../errors/relay_error.ts";
import {
  deviceKeyFromJwk,
  deviceKeyToJwk,
  E2E_METADATA_KEY,
  generateDeviceKey,
  loadOrCreateDeviceKeyFile,
  publicKeyFromMetadata,
  publicKeyMetadata,
} from "./device_key.ts";
import { openRequest, sealRequest } from "./envelope.ts";
import { fingerprint, isFingerprint } from "./hpke_suite.ts";

Deno.test("fingerprints are SHA256: and base64url of the raw public key", async () => {
  const key = await generateDeviceKey();
  assert.ok(isFingerprint(key.fingerprint), key.fingerprint);
  assert.equal(key.fingerprint, await fingerprint(key.publicKey));
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", key.publicKey.slice()),
  );
  const expected = btoa(String.fromCharCode(...hash)).replaceAll("+", "-")
    .replaceAll("/", "_").replace(/=+$/, "");
  assert.equal(key.fingerprint, `SHA256:${expected}`);
  assert.ok(!isFingerprint("SHA256:short"));
  assert.ok(!isFingerprint(key.fingerprint.replace("SHA256:", "MD5:")));
});

Deno.test("the key file is created once with mode 0600 and loads the same key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "nested", "dev-1.e2e.json");
    const first = await loadOrCreateDeviceKeyFile(path);
    assert.equal(first.created, true);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(join(dir, "nested"))).mode! & 0o777, 0o700);
    }
    const second = await loadOrCreateDeviceKeyFile(path);
    assert.equal(second.created, false);
    assert.equal(second.key.fingerprint, first.key.fingerprint);
    // The loaded private key opens what was sealed to the first public key.
    const binding = { deviceId: "d", controllerId: "c", method: "m" };
    const sealed = await sealRequest(
      first.key.publicKey,
      binding,
      new Uint8Array([1, 2, 3]),
    );
    const opened = await openRequest(second.key, binding, sealed.envelope);
    assert.deepEqual([...opened.payload], [1, 2, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a key file readable by others or not a key is refused",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, "k.json");
      await loadOrCreateDeviceKeyFile(path);
      await Deno.chmod(path, 0o644);
      await assert.rejects(
        loadOrCreateDeviceKeyFile(path),
        (error: RelayError) => /accessible by others/.test(error.message),
      );
      await Deno.writeTextFile(path, '{"kty":"OKP"}', { mode: 0o600 });
      await Deno.chmod(path, 0o600);
      await assert.rejects(
        loadOrCreateDeviceKeyFile(path),
        (error: RelayError) => /not a valid key/.test(error.message),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a JWK whose halves do not belong together is refused", async () => {
  const a = await deviceKeyToJwk(await generateDeviceKey());
  const b = await deviceKeyToJwk(await generateDeviceKey());
  assert.equal(
    (await deviceKeyFromJwk(a)).fingerprint,
    (await deviceKeyFromJwk({ ...a })).fingerprint,
  );
  await assert.rejects(deviceKeyFromJwk({ ...a, d: b.d }), /do not match/);
  await assert.rejects(deviceKeyFromJwk({ ...a, crv: "P-256" }), /X25519 JWK/);
});

Deno.test("the public key travels in metadata as base64url", async () => {
  const key = await generateDeviceKey();
  const metadata = publicKeyMetadata(key);
  assert.equal(metadata[E2E_METADATA_KEY]!.length, 43);
  assert.deepEqual(publicKeyFromMetadata(metadata), key.publicKey);
  assert.equal(publicKeyFromMetadata({ region: "eu" }), undefined);
  assert.throws(
    () => publicKeyFromMetadata({ [E2E_METADATA_KEY]: "not a key" }),
    (error: RelayError) => error.code === "INVALID_REQUEST",
  );
  assert.throws(
    () => publicKeyFromMetadata({ [E2E_METADATA_KEY]: "AAAA" }),
    (error: RelayError) => error.code === "INVALID_REQUEST",
  );
});
