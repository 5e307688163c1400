import assert from "node:assert/strict";
import { RelayError } from "../src/errors/relay_error.ts";
import {
  contractTest,
  decode,
  encode,
  eventually,
  startTestRelay,
} from "./harness.ts";
import { nextDataRequest, rawDevice, readUntilClosed } from "./raw_device.ts";

/** Raw devices have no E2E key and answer by hand: talk to them in plaintext. */
const PLAINTEXT = { e2e: false } as const;

contractTest(
  "after a transport drop a request waits and is delivered on resume",
  {
    config: { "relay.session.resume_window_seconds": 5 },
  },
  async (t) => {
    const credential = t.registerDevice("resume-1");
    const first = await rawDevice(t, "resume-1", credential);
    first.drop();
    const controller = t.controller(undefined, PLAINTEXT);
    await eventually(async () =>
      (await controller.listDevices())[0]?.state === "DISCONNECTED"
    );

    const pending = controller.call("resume-1", "echo", encode("queued"), {
      timeoutMs: 3000,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await rawDevice(
      t,
      "resume-1",
      credential,
      first.connectionId,
    );
    assert.equal(second.first.register_response?.session_resumed, true);
    assert.equal(
      second.connectionId,
      first.connectionId,
      "same connection id after resume",
    );
    assert.ok(
      second.first.register_response!.generation >
        first.first.register_response!.generation,
    );
    const request = await nextDataRequest(second);
    assert.equal(request.method_name, "echo");
    assert.equal(decode(request.encrypted_payload), "queued");
    await second.answer(request, encode("delivered after resume"));
    assert.equal(decode(await pending), "delivered after resume");
    assert.ok(
      !t.presence.some((event) => event.type === "offline"),
      "no offline event",
    );
    second.drop();
  },
);

contractTest(
  "when the resume window expires waiting requests fail with DEVICE_OFFLINE",
  {
    config: { "relay.session.resume_window_seconds": 0.15 },
  },
  async (t) => {
    const device = await rawDevice(t, "gone-1", t.registerDevice("gone-1"));
    device.drop();
    const controller = t.controller(undefined, PLAINTEXT);
    await eventually(async () =>
      (await controller.listDevices())[0]?.state === "DISCONNECTED"
    );
    const started = Date.now();
    await assert.rejects(
      controller.call("gone-1", "echo", encode("x"), { timeoutMs: 5000 }),
      (error: RelayError) => error.code === "DEVICE_OFFLINE",
    );
    assert.ok(
      Date.now() - started < 2000,
      "failed at window expiry, not at the deadline",
    );
    const offline = t.presence.find((event) => event.type === "offline");
    assert.equal(
      offline?.type === "offline" && offline.reason,
      "resume_window_expired",
    );
    assert.deepEqual(await controller.listDevices(), []);
  },
);

contractTest(
  "a request for a disconnected device fails with DEVICE_OFFLINE at its deadline",
  {
    config: { "relay.session.resume_window_seconds": 5 },
  },
  async (t) => {
    const device = await rawDevice(t, "late-1", t.registerDevice("late-1"));
    device.drop();
    const controller = t.controller(undefined, PLAINTEXT);
    await eventually(async () =>
      (await controller.listDevices())[0]?.state === "DISCONNECTED"
    );
    await assert.rejects(
      controller.call("late-1", "echo", encode("x"), { timeoutMs: 100 }),
      (error: RelayError) => error.code === "DEVICE_OFFLINE",
    );
  },
);

contractTest(
  "a second connection of a device replaces the first, fenced by generation",
  {},
  async (t) => {
    const credential = t.registerDevice("twin-1");
    const older = await rawDevice(t, "twin-1", credential);
    const newer = await rawDevice(t, "twin-1", credential);
    assert.notEqual(newer.connectionId, older.connectionId);
    assert.equal(newer.first.register_response?.session_resumed, false);
    // The old stream gets an explicit close.
    await assert.rejects(
      readUntilClosed(older),
      (error: RelayError) =>
        error.code === "UNAVAILABLE" && /replaced/.test(error.message),
    );
    // Cleanup of the old link must not touch the new session.
    older.drop();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const controller = t.controller(undefined, PLAINTEXT);
    const [info] = await controller.listDevices();
    assert.equal(info?.connection_id, newer.connectionId);
    assert.equal(info?.state, "ONLINE");
    const reply = controller.call("twin-1", "m", encode("to newest"));
    const request = await nextDataRequest(newer);
    await newer.answer(request, request.encrypted_payload);
    assert.equal(decode(await reply), "to newest");
    const replaced = t.presence.filter((event) => event.type === "offline");
    assert.deepEqual(replaced.map((e) => e.type === "offline" && e.reason), [
      "replaced",
    ]);
    newer.drop();
  },
);

contractTest(
  "the device agent reconnects and resumes after the relay drops it",
  {
    config: { "relay.session.resume_window_seconds": 5 },
  },
  async (t) => {
    const agent = await t.device("agent-1");
    const firstConnection = agent.state.connectionId;
    // Drop the device's transport from the relay side (as a network failure would).
    const session = t.relay.core.registry.get("agent-1")!;
    const resumed = agent.waitFor("connected", (state) => state.resumed);
    session.link!.close(
      new RelayError("UNAVAILABLE", "simulated transport failure"),
    );
    const state = await resumed;
    assert.equal(state.connectionId, firstConnection);
    const reply = await t.controller().call(
      "agent-1",
      "echo",
      encode("still here"),
    );
    assert.equal(decode(reply), "still here");
  },
);

contractTest("requests waiting for a device are bounded per device", {
  config: {
    "relay.session.resume_window_seconds": 5,
    "relay.session.max_pending_requests_per_device": 2,
  },
}, async (t) => {
  const device = await rawDevice(
    t,
    "bounded-1",
    t.registerDevice("bounded-1"),
  );
  device.drop();
  const controller = t.controller(undefined, PLAINTEXT);
  await eventually(async () =>
    (await controller.listDevices())[0]?.state === "DISCONNECTED"
  );
  const session = controller.openSession("bounded-1");
  const waiting = [1, 2].map(() =>
    session.request("m", encode("x"), { timeoutMs: 300 })
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  const overflow = await session.request("m", encode("x"), {
    timeoutMs: 300,
  });
  assert.equal(overflow.error, "RATE_LIMITED");
  for (const response of await Promise.all(waiting)) {
    assert.equal(response.error, "DEVICE_OFFLINE");
  }
});

Deno.test("a session resumed on another transport counts as a transport switch", async () => {
  const t = await startTestRelay({
    config: { "relay.session.resume_window_seconds": 5 },
  });
  try {
    const credential = t.registerDevice("switch-1");
    const overH2 = await rawDevice(t, "switch-1", credential);
    const quic = {
      ...t,
      clientOptions: { ...t.clientOptions, transport: "quic" as const },
    };
    const overQuic = await rawDevice(
      quic,
      "switch-1",
      credential,
      overH2.connectionId,
    );
    assert.equal(overQuic.first.register_response?.session_resumed, true);
    const [info] = await t.controller().listDevices();
    assert.equal(info?.transport, "quic");
    const metrics =
      await (await fetch(`http://127.0.0.1:${t.relay.healthPort}/metrics`))
        .text();
    assert.match(
      metrics,
      /relay_transport_switches_total\{from="h2",to="quic"\} 1/,
    );
    overH2.drop();
    overQuic.drop();
  } finally {
    await t.close();
  }
});
