import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { DeviceResponse__Output as DeviceResponse } from "../gen/relay/v1/DeviceResponse.ts";
import { ControllerE2e, isSessionRefusal } from "./controller_e2e.ts";
import { DeviceE2e } from "./device_e2e.ts";
import {
  type DeviceKeyPair,
  generateDeviceKey,
  publicKeyMetadata,
} from "./device_key.ts";
import { DeviceSessions } from "./device_sessions.ts";
import { sealRequest } from "./envelope.ts";
import { parseSessionRequest, SenderSession } from "./session_envelope.ts";
import { utf8 } from "./hpke_suite.ts";

const WINDOW_MS = 60_000;
const text = new TextDecoder();

function controller(deviceKey: DeviceKeyPair, key?: DeviceKeyPair) {
  return new ControllerE2e(
    { controllerId: "ops-1", ...(key ? { key } : {}) },
    "",
    () =>
      Promise.resolve([{
        device_id: "dev-1",
        metadata: publicKeyMetadata(deviceKey),
      } as never]),
  );
}

function request(payload: Uint8Array, method = "echo") {
  return { deviceId: "dev-1", controllerId: "ops-1", method, payload };
}

function answer(bytes: Uint8Array, error = "OK", message = ""): DeviceResponse {
  return {
    device_id: "dev-1",
    sequence_number: 1,
    encrypted_payload: Buffer.from(bytes),
    error,
    error_message: message,
  } as DeviceResponse;
}

Deno.test("a session is set up once, then every request and answer is one AEAD", async () => {
  const deviceKey = await generateDeviceKey();
  const device = new DeviceE2e({ key: deviceKey, allowPlaintext: false });
  const session = controller(deviceKey).session("dev-1");
  const prepared = [];
  for (let i = 0; i < 4; i++) {
    prepared.push(await session.prepare("echo", utf8(`req ${i}`)));
  }
  const encs = new Set(
    prepared.map((p) =>
      Buffer.from(parseSessionRequest(p.payload).enc).toString("hex")
    ),
  );
  assert.equal(encs.size, 1, "one session");
  // Out of order, as pipelined requests may arrive.
  for (const p of prepared.toReversed()) {
    const opened = await device.open(request(p.payload));
    assert.equal(opened.replayed, false);
    assert.match(opened.controllerKey!, /^SHA256:/);
    const reply = await p.open(
      answer(await opened.seal(utf8("re " + text.decode(opened.payload)))),
    );
    assert.match(text.decode(reply.encrypted_payload), /^re req \d$/);
  }
  // The same envelope again: a replay, refused unless the caller answers it from a cache.
  await assert.rejects(device.open(request(prepared[0]!.payload)), /replayed/);
  const replay = await device.open(request(prepared[0]!.payload), {
    acceptReplay: true,
  });
  assert.equal(replay.replayed, true);
});

Deno.test("a device that trusts listed controller keys refuses others, and unauthenticated envelopes", async () => {
  const deviceKey = await generateDeviceKey();
  const trustedKey = await generateDeviceKey();
  const device = new DeviceE2e({
    key: deviceKey,
    allowPlaintext: false,
    trustedControllers: new Map([[trustedKey.fingerprint, new Set(["ops-1"])]]),
  });
  const trusted = await controller(deviceKey, trustedKey).session("dev-1")
    .prepare("echo", utf8("hi"));
  assert.equal(
    text.decode((await device.open(request(trusted.payload))).payload),
    "hi",
  );

  // The relay playing controller: its own key is not on the list.
  const injected = await controller(deviceKey).session("dev-1").prepare(
    "reboot",
    utf8("x"),
  );
  await assert.rejects(
    device.open(request(injected.payload, "reboot")),
    (error: Error & { code?: string }) =>
      error.code === "PERMISSION_DENIED" &&
      /does not trust/.test(error.message),
  );
  // A trusted key used under another controller id.
  const otherId = await SenderSession.create(deviceKey.publicKey, trustedKey, {
    deviceId: "dev-1",
    controllerId: "ops-2",
  });
  await assert.rejects(
    device.open({
      ...request((await otherId.seal("echo", utf8("x"))).envelope),
      controllerId: "ops-2",
    }),
    /does not trust/,
  );
  // Version 1 does not authenticate its sender.
  const v1 = await sealRequest(deviceKey.publicKey, {
    deviceId: "dev-1",
    controllerId: "ops-1",
    method: "echo",
  }, utf8("x"));
  await assert.rejects(device.open(request(v1.envelope)), /not authenticated/);
});

Deno.test("after a device restart the old session is refused and the controller starts a new one", async () => {
  const deviceKey = await generateDeviceKey();
  const first = new DeviceE2e({ key: deviceKey, allowPlaintext: false });
  const e2e = controller(deviceKey).session("dev-1");
  const before = await e2e.prepare("echo", utf8("one"));
  await first.open(request(before.payload));
  await new Promise((resolve) => setTimeout(resolve, 5));
  const restarted = new DeviceE2e({ key: deviceKey, allowPlaintext: false });
  const again = await e2e.prepare("echo", utf8("two"));
  let refusal: DeviceResponse | undefined;
  await restarted.open(request(again.payload)).catch((error: Error) => {
    refusal = answer(new Uint8Array(), "INVALID_REQUEST", error.message);
  });
  assert.ok(
    refusal && isSessionRefusal(refusal),
    String(refusal?.error_message),
  );
  await again.open(refusal);
  const renewed = await e2e.prepare("echo", utf8("three"));
  assert.notDeepEqual(
    parseSessionRequest(renewed.payload).enc,
    parseSessionRequest(again.payload).enc,
  );
  assert.equal(
    text.decode((await restarted.open(request(renewed.payload))).payload),
    "three",
  );
});

Deno.test("sessions are bounded; an evicted or expired one is never set up again", async () => {
  const deviceKey = await generateDeviceKey();
  const controllerKey = await generateDeviceKey();
  let now = 1_000_000;
  const sessions = new DeviceSessions({
    key: deviceKey,
    windowMs: WINDOW_MS,
    maxSessions: 2,
    now: () => now,
  });
  const binding = { deviceId: "dev-1", controllerId: "ops-1" };
  const opened = [];
  for (let i = 1; i <= 3; i++) {
    now += 1;
    const session = await SenderSession.create(
      deviceKey.publicKey,
      controllerKey,
      binding,
      now,
    );
    const sealed = await session.seal("echo", utf8(`s${i}`));
    await sessions.open(binding, "echo", sealed.envelope);
    opened.push(session);
  }
  assert.equal(sessions.size, 2);
  const evicted = await opened[0]!.seal("echo", utf8("late"));
  await assert.rejects(
    sessions.open(binding, "echo", evicted.envelope),
    /stale session/,
  );
  now += 2 * WINDOW_MS + 10;
  const expired = await opened[2]!.seal("echo", utf8("later"));
  await assert.rejects(
    sessions.open(binding, "echo", expired.envelope),
    /session expired/,
  );
});
