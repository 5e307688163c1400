import assert from "node:assert/strict";
import { RelayError } from "../errors/relay_error.ts";
import { DeviceE2e } from "./device_e2e.ts";
import { generateDeviceKey } from "./device_key.ts";
import { type RequestBinding, sealRequest } from "./envelope.ts";

const binding: RequestBinding = {
  deviceId: "dev-1",
  controllerId: "ops-1",
  method: "echo",
};
const bytes = (value: string) => new TextEncoder().encode(value);
const text = (value: Uint8Array) => new TextDecoder().decode(value);

Deno.test("a replayed envelope is refused, or reported with acceptReplay and still sealed for", async () => {
  const key = await generateDeviceKey();
  const e2e = new DeviceE2e({ key, allowPlaintext: false });
  const sealed = await sealRequest(key.publicKey, binding, bytes("once"));
  const request = { ...binding, payload: sealed.envelope };

  const first = await e2e.open(request, { acceptReplay: true });
  assert.equal(first.replayed, false);
  assert.equal(text(first.payload), "once");

  await assert.rejects(
    e2e.open(request),
    (error: unknown) =>
      error instanceof RelayError && error.code === "INVALID_REQUEST" &&
      error.message === "e2e: request rejected: replayed",
  );
  const again = await e2e.open(request, { acceptReplay: true });
  assert.equal(again.replayed, true);
  // An answer sealed for the replay opens under the original request.
  const answer = await again.seal(bytes("kept answer"));
  assert.equal(text(await sealed.openResponse(answer)), "kept answer");
});

Deno.test("a plaintext request is never reported as replayed", async () => {
  const e2e = new DeviceE2e({
    key: await generateDeviceKey(),
    allowPlaintext: true,
  });
  const request = { ...binding, payload: bytes("plain") };
  await e2e.open(request);
  const again = await e2e.open(request);
  assert.equal(again.replayed, false);
  assert.equal(again.encrypted, false);
});
