import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { RelayError } from "../errors/relay_error.ts";
import type { DeviceInfo__Output as DeviceInfo } from "../gen/relay/v1/DeviceInfo.ts";
import type { DeviceResponse__Output as DeviceResponse } from "../gen/relay/v1/DeviceResponse.ts";
import { ControllerE2e } from "./controller_e2e.ts";
import {
  type DeviceKeyPair,
  E2E_METADATA_KEY,
  generateDeviceKey,
  publicKeyMetadata,
} from "./device_key.ts";
import { envelopeKind, KEY_UNKNOWN_PROBE, openRequest } from "./envelope.ts";

/** What a device of the previous release advertises: its key, no versions. */
function versionOneMetadata(key: DeviceKeyPair): Record<string, string> {
  return { [E2E_METADATA_KEY]: publicKeyMetadata(key)[E2E_METADATA_KEY]! };
}

function info(deviceId: string, metadata: Record<string, string>): DeviceInfo {
  return { device_id: deviceId, metadata } as unknown as DeviceInfo;
}

function response(
  payload: Uint8Array,
  error = "OK",
  errorMessage = "",
): DeviceResponse {
  return {
    device_id: "dev-1",
    sequence_number: 1,
    encrypted_payload: Buffer.from(payload),
    error,
    error_message: errorMessage,
  } as DeviceResponse;
}

Deno.test("seals to the listed key, looks it up once, opens the answer", async () => {
  const key = await generateDeviceKey();
  let lookups = 0;
  const e2e = new ControllerE2e({ controllerId: "ops-1" }, "", () => {
    lookups++;
    return Promise.resolve([info("dev-1", versionOneMetadata(key))]);
  });
  const session = e2e.session("dev-1");
  const prepared = await session.prepare("echo", new TextEncoder().encode("x"));
  await session.prepare("echo", new Uint8Array());
  assert.equal(lookups, 1);
  assert.equal(envelopeKind(prepared.payload), "request");
  const opened = await openRequest(key, {
    deviceId: "dev-1",
    controllerId: "ops-1",
    method: "echo",
  }, prepared.payload);
  const answer = await prepared.open(
    response(await opened.sealResponse(new TextEncoder().encode("y"))),
  );
  assert.equal(new TextDecoder().decode(answer.encrypted_payload), "y");
  // A device that could not open a request makes the client look again.
  await prepared.open(
    response(new Uint8Array(), "INVALID_REQUEST", "e2e: request rejected: x"),
  );
  await session.prepare("echo", new Uint8Array());
  assert.equal(lookups, 2);
});

Deno.test("an unlisted device gets the empty probe; a keyless one is refused", async () => {
  const e2e = new ControllerE2e(
    { controllerId: "ops-1" },
    "",
    () => Promise.resolve([info("keyless", { region: "eu" })]),
  );
  const probe = await e2e.session("ghost").prepare("m", new Uint8Array(9));
  assert.deepEqual(probe.payload, KEY_UNKNOWN_PROBE);
  const refusal = response(new Uint8Array(), "DEVICE_NOT_FOUND", "no such");
  assert.equal((await probe.open(refusal)).error, "DEVICE_NOT_FOUND");
  await assert.rejects(
    probe.open(response(new Uint8Array())),
    (error: RelayError) => /is not listed/.test(error.message),
  );
  await assert.rejects(
    e2e.session("keyless").prepare("m", new Uint8Array()),
    (error: RelayError) =>
      error.code === "INVALID_REQUEST" &&
      /advertises no encryption key/.test(error.message),
  );
});

Deno.test("explicit sequence numbers reuse the envelope for the same request", async () => {
  const key = await generateDeviceKey();
  const e2e = new ControllerE2e(
    { controllerId: "ops-1" },
    "",
    () => Promise.resolve([info("dev-1", versionOneMetadata(key))]),
  );
  const session = e2e.session("dev-1");
  const payload = new TextEncoder().encode("same");
  const [a, b] = await Promise.all([
    session.prepare("m", payload, 5),
    session.prepare("m", payload, 5),
  ]);
  assert.deepEqual(a.payload, b.payload);
  const other = await session.prepare("m", new Uint8Array([1]), 5);
  assert.notDeepEqual(other.payload, a.payload);
  // After a failed answer the next attempt is a new request.
  const again = await session.prepare("m", new Uint8Array([1]), 5);
  assert.deepEqual(again.payload, other.payload);
  await again.open(response(new Uint8Array(), "INTERNAL_ERROR", "boom"));
  const retry = await session.prepare("m", new Uint8Array([1]), 5);
  assert.notDeepEqual(retry.payload, other.payload);
  // Sequence number 0 is unset: every send is a new envelope.
  const [unset, unsetAgain] = await Promise.all([
    session.prepare("m", payload, 0),
    session.prepare("m", payload, 0),
  ]);
  assert.notDeepEqual(unset.payload, unsetAgain.payload);
});

Deno.test("the controller id comes from the token's sub, a lookup is bounded", async () => {
  const key = await generateDeviceKey();
  const claims = btoa(JSON.stringify({ sub: "ops-7" })).replace(/=+$/, "");
  const e2e = new ControllerE2e(
    {},
    `eyJhbGciOiJIUzI1NiJ9.${claims}.sig`,
    () => Promise.resolve([info("dev-1", versionOneMetadata(key))]),
  );
  assert.equal(e2e.controllerId(), "ops-7");
  assert.throws(
    () =>
      new ControllerE2e({}, "not-a-jwt", () => Promise.resolve([]))
        .controllerId(),
    (error: RelayError) =>
      /cannot tell this controller's id/.test(error.message),
  );
  let release!: () => void;
  const hung = new ControllerE2e(
    { controllerId: "c" },
    "",
    () => new Promise((resolve) => release = () => resolve([])),
    20,
  );
  await assert.rejects(
    hung.deviceKey("dev-1"),
    (error: RelayError) => error.code === "DEADLINE_EXCEEDED",
  );
  release();
});
