// Hostile input: missing credentials and device impersonation.
import assert from "node:assert/strict";
import type { RelayError } from "../../src/errors/relay_error.ts";
import { encode } from "../harness.ts";
import { rawDevice, readUntilClosed } from "../raw_device.ts";
import { withDeadline } from "../with_deadline.ts";
import { hostileTest, PLAINTEXT } from "./hostile_case.ts";
import { assertStillServes } from "./still_serves.ts";

const isError = (code: string, message: RegExp) => (error: RelayError) => {
  assert.equal(error.code, code, `code (message: ${error.message})`);
  assert.match(error.message, message);
  return true;
};

/** Reads a raw device stream to its end; the error it was closed with, if any. */
const closeReason = (device: Awaited<ReturnType<typeof rawDevice>>) =>
  withDeadline(
    readUntilClosed(device).then(() => undefined, (error: RelayError) => error),
    2000,
    "the relay to close the device stream",
  );

hostileTest("no credentials: a device without a credential", {}, async (t) => {
  t.registerDevice("nocred-dev");
  const device = await rawDevice(t, "nocred-dev", "");
  try {
    assert.ok(!device.first.register_response, "not registered");
    assert.equal(device.first.error?.code, "UNAUTHORIZED");
    assert.match(device.first.error?.message ?? "", /credential/);
    await closeReason(device); // the stream ends after the error
  } finally {
    device.drop();
  }
  assert.equal(
    (await t.controller().listDevices()).some((d) =>
      d.device_id === "nocred-dev"
    ),
    false,
    "the refused device is not online",
  );
  await assertStillServes(t);
});

hostileTest(
  "no credentials: controller stream and ListOnlineDevices without a token",
  {},
  async (t) => {
    await t.device("nocred-target");
    const anonymous = t.controller("", PLAINTEXT);
    await assert.rejects(
      anonymous.listDevices(),
      isError("UNAUTHORIZED", /missing controller token/),
    );
    await assert.rejects(
      anonymous.openSession("nocred-target").call("echo", encode("x")),
      isError("UNAUTHORIZED", /missing controller token/),
    );
    await assert.rejects(
      anonymous.revokeToken({ token: t.relay.adminToken }),
      isError("UNAUTHORIZED", /missing controller token/),
    );
    await assertStillServes(t);
  },
);

hostileTest(
  "device impersonation: A's credential with B's id at register",
  {},
  async (t) => {
    const credentialA = t.registerDevice("imp-a");
    const b = await t.device("imp-b");
    const before = (await t.controller().listDevices())
      .find((d) => d.device_id === "imp-b")?.connection_id;
    assert.ok(before, "B is online");

    const forged = await rawDevice(t, "imp-b", credentialA);
    try {
      assert.ok(!forged.first.register_response, "not registered");
      assert.equal(forged.first.error?.code, "UNAUTHORIZED");
      assert.match(forged.first.error?.message ?? "", /credential/);
    } finally {
      forged.drop();
    }
    // B keeps its connection and still answers.
    const after = (await t.controller().listDevices())
      .find((d) => d.device_id === "imp-b")?.connection_id;
    assert.equal(after, before, "B's connection was not replaced");
    assert.equal(b.state.state, "connected");
    await assertStillServes(t);
  },
);

hostileTest(
  "device impersonation: a message carrying another device's id after register",
  {},
  async (t) => {
    const credentialA = t.registerDevice("imp-a");
    const b = await t.device("imp-b");
    const a = await rawDevice(t, "imp-a", credentialA);
    try {
      assert.ok(a.first.register_response, "A registered");
      await a.stream.send({
        device_id: "imp-b",
        heartbeat: { connection_id: a.connectionId, timestamp: Date.now() },
      });
      const error = await closeReason(a);
      assert.equal(error?.code, "UNAUTHORIZED");
      assert.match(error?.message ?? "", /device_id differs/);
    } finally {
      a.drop();
    }
    const online = (await t.controller().listDevices()).map((d) => d.device_id);
    assert.ok(!online.includes("imp-a"), "A's stream was closed");
    assert.ok(online.includes("imp-b"), "B is still online");
    assert.equal(b.state.state, "connected");
    await assertStillServes(t);
  },
);

hostileTest(
  "device impersonation: a later message carrying another device's credential",
  {},
  async (t) => {
    const credentialA = t.registerDevice("imp-a");
    const credentialB = t.registerDevice("imp-b");
    await t.device("imp-b", { token: credentialB });
    const a = await rawDevice(t, "imp-a", credentialA);
    try {
      assert.ok(a.first.register_response, "A registered");
      await a.stream.send({
        device_id: "imp-a",
        token: credentialB,
        heartbeat: { connection_id: a.connectionId, timestamp: Date.now() },
      });
      const error = await closeReason(a);
      assert.equal(error?.code, "UNAUTHORIZED");
      assert.match(error?.message ?? "", /credential/);
    } finally {
      a.drop();
    }
    await assertStillServes(t);
  },
);
