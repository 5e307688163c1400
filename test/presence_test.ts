import assert from "node:assert/strict";
import { contractTest, eventually } from "./harness.ts";
import { rawDevice, readUntilClosed } from "./raw_device.ts";
import { RelayError } from "../src/errors/relay_error.ts";

const FAST_PRESENCE = {
  "relay.heartbeat_interval_seconds": 0.02,
  "relay.presence.suspect_after_seconds": 0.15,
  "relay.presence.offline_after_seconds": 0.3,
};

// 20 ms heartbeats against a 300 ms suspect timeout: margin for a loaded CI machine.
contractTest("heartbeats keep a device online and advance last_seen", {
  config: {
    ...FAST_PRESENCE,
    "relay.presence.suspect_after_seconds": 0.3,
    "relay.presence.offline_after_seconds": 1,
  },
}, async (t) => {
  const agent = await t.device("hb-1");
  const controller = t.controller();
  const [before] = await controller.listDevices();
  // The relay announced its 20 ms interval; well past the suspect timeout
  // the device must still be online with a fresher last_seen.
  await new Promise((resolve) => setTimeout(resolve, 400));
  const [after] = await controller.listDevices();
  assert.equal(after!.state, "ONLINE");
  assert.ok(after!.last_seen > before!.last_seen, "last_seen advanced");
  assert.equal(after!.connection_id, agent.state.connectionId);
  assert.ok(!t.presence.some((event) => event.type === "offline"));
});

contractTest(
  "a silent device goes suspect, then offline with its stream closed",
  { config: FAST_PRESENCE },
  async (t) => {
    const device = await rawDevice(t, "silent-1", t.registerDevice("silent-1"));
    assert.equal(device.first.register_response?.heartbeat_interval_ms, 20);
    const controller = t.controller();
    await eventually(
      async () => (await controller.listDevices())[0]?.state === "SUSPECT",
      2000,
      "suspect state",
    );
    await eventually(
      async () => (await controller.listDevices()).length === 0,
      2000,
      "offline",
    );
    const offline = t.presence.find((event) => event.type === "offline");
    assert.equal(offline?.type === "offline" && offline.reason, "timeout");
    // The relay closed the device stream with DEVICE_OFFLINE.
    await assert.rejects(
      readUntilClosed(device),
      (error: RelayError) => error.code === "DEVICE_OFFLINE",
    );
    device.drop();
  },
);

// A long offline timeout leaves time to observe SUSPECT and answer it.
contractTest("traffic from a suspect device makes it online again", {
  config: { ...FAST_PRESENCE, "relay.presence.offline_after_seconds": 5 },
}, async (t) => {
  const device = await rawDevice(t, "flaky-1", t.registerDevice("flaky-1"));
  const controller = t.controller();
  await eventually(async () =>
    (await controller.listDevices())[0]?.state === "SUSPECT"
  );
  await device.heartbeat();
  await eventually(async () =>
    (await controller.listDevices())[0]?.state === "ONLINE"
  );
  device.drop();
});
