import assert from "node:assert/strict";
import { join } from "node:path";
import { RelayError } from "../errors/relay_error.ts";
import { generateDeviceKey } from "./device_key.ts";
import { KeyPinning } from "./key_pinning.ts";
import { KnownDevicesFile } from "./known_devices_file.ts";

const refusal = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof RelayError);
  assert.equal(error.code, "UNAUTHORIZED");
  assert.match(error.message, pattern);
  return true;
};

Deno.test("trust on first use remembers the first key and refuses another", async () => {
  const first = await generateDeviceKey();
  const second = await generateDeviceKey();
  const trusted: string[] = [];
  const pinning = new KeyPinning({
    onFirstUse: (id, fp) => trusted.push(`${id} ${fp}`),
  });
  assert.equal(
    await pinning.verify("dev-1", first.publicKey),
    first.fingerprint,
  );
  assert.equal(
    await pinning.verify("dev-1", first.publicKey),
    first.fingerprint,
  );
  assert.deepEqual(trusted, [`dev-1 ${first.fingerprint}`]);
  await assert.rejects(
    pinning.verify("dev-1", second.publicKey),
    refusal(/offers key .* but .* was trusted on first use/),
  );
  // Another device is unaffected.
  await pinning.verify("dev-2", second.publicKey);
});

Deno.test("an explicit pin wins over the known keys", async () => {
  const first = await generateDeviceKey();
  const second = await generateDeviceKey();
  const pinning = new KeyPinning({ pins: { "dev-1": second.fingerprint } });
  await assert.rejects(
    pinning.verify("dev-1", first.publicKey),
    refusal(new RegExp(`${second.fingerprint} is pinned`)),
  );
  assert.equal(
    await pinning.verify("dev-1", second.publicKey),
    second.fingerprint,
  );
  assert.throws(
    () => new KeyPinning({ pins: { "dev-1": "abc" } }),
    (error: RelayError) => error.code === "INVALID_REQUEST",
  );
});

Deno.test("without trust on first use an unpinned device is refused", async () => {
  const key = await generateDeviceKey();
  const pinning = new KeyPinning({ trustOnFirstUse: false });
  await assert.rejects(
    pinning.verify("dev-1", key.publicKey),
    refusal(/not pinned/),
  );
});

Deno.test("the known-devices file keeps trust across controllers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "ctl", "known_devices");
    const key = await generateDeviceKey();
    const other = await generateDeviceKey();
    await new KeyPinning({ knownKeys: new KnownDevicesFile(path) }).verify(
      "dev-1",
      key.publicKey,
    );
    await new KeyPinning({ knownKeys: new KnownDevicesFile(path) }).verify(
      "dev-2",
      other.publicKey,
    );
    const text = await Deno.readTextFile(path);
    assert.match(text, new RegExp(`^dev-1 ${key.fingerprint}$`, "m"));
    assert.match(text, new RegExp(`^dev-2 ${other.fingerprint}$`, "m"));
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    }
    await assert.rejects(
      new KeyPinning({ knownKeys: new KnownDevicesFile(path) }).verify(
        "dev-1",
        other.publicKey,
      ),
      refusal(new RegExp(`remove dev-1 from ${path}`)),
    );
    await Deno.writeTextFile(path, "dev-1 not-a-fingerprint\n");
    await assert.rejects(
      new KnownDevicesFile(path).get("dev-1"),
      /known_devices:1: expected/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
