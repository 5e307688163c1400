// Device status and telemetry through the relay connection (DevicePublish /
// PublishAck), over every transport: the relay republishes only the device's
// own topics, answers every publication, and one refused publication never
// costs the device its stream.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { RelayError } from "../src/errors/relay_error.ts";
import {
  contractTest,
  decode,
  encode,
  eventually,
  type TestRelay,
} from "./harness.ts";
import { rawDevice } from "./raw_device.ts";
import { expectAudit, principal } from "./hostile/audit_log.ts";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const CANARY = "publish-payload-canary-5c1d";
/** Relay config for the cases that check refusals with MQTT off. */
const MQTT_OFF = { "relay.mqtt.enabled": false };

const rejectsWith = (code: string, message?: RegExp) => (error: unknown) => {
  assert.ok(error instanceof RelayError, `not a RelayError: ${error}`);
  assert.equal(error.code, code, error.message);
  if (message) assert.match(error.message, message);
  return true;
};

async function publishCount(t: TestRelay, result: string): Promise<number> {
  const text = await t.relay.core.metrics.registry.metrics();
  const match = new RegExp(
    `relay_device_publishes_total\\{result="${result}"\\} (\\d+)`,
  ).exec(text);
  return Number(match?.[1] ?? 0);
}

async function roundTrip(t: TestRelay, deviceId: string): Promise<void> {
  const reply = await t.controller().call(deviceId, "echo", encode("still up"));
  assert.equal(decode(reply), "still up");
}

contractTest(
  "a device cannot publish another device's topic; its stream stays up",
  { config: MQTT_OFF },
  async (t) => {
    const agent = await t.device("pub-a");
    const connectionId = agent.state.connectionId;
    for (const topic of ["device/pub-b/status", "telemetry/pub-b", "cmd/x"]) {
      await assert.rejects(
        agent.publish(topic, CANARY, { qos: 1 }),
        rejectsWith("PERMISSION_DENIED", new RegExp(`"${topic}"`)),
      );
    }
    assert.equal(agent.state.state, "connected");
    assert.equal(agent.state.connectionId, connectionId, "same stream");
    await roundTrip(t, "pub-a");
    await expectAudit(t, "access_denied", {
      principal: principal("pub-a"),
      device_id: "pub-a",
      code: "PERMISSION_DENIED",
      reason: /device\/pub-b\/status/,
    });
    assert.equal(await publishCount(t, "denied"), 3);
    assert.equal(await publishCount(t, "ok"), 0, "nothing published");
    for (const line of t.logLines) assert.ok(!line.includes(CANARY), line);
  },
);

contractTest(
  "with MQTT off an allowed publication is answered UNAVAILABLE",
  { config: MQTT_OFF },
  async (t) => {
    const agent = await t.device("pub-off");
    await assert.rejects(
      agent.publishStatus({ firmware: "1.0" }),
      rejectsWith("UNAVAILABLE", /MQTT is off/),
    );
    await assert.rejects(
      agent.publishTelemetry({ temperature: 21 }),
      rejectsWith("UNAVAILABLE", /MQTT is off/),
    );
    await roundTrip(t, "pub-off");
    assert.equal(await publishCount(t, "unavailable"), 2);
  },
);

contractTest(
  "malformed publications are refused one by one on an open stream",
  { config: MQTT_OFF },
  async (t) => {
    const device = await rawDevice(t, "pub-raw", t.registerDevice("pub-raw"));
    const send = (id: number, topic: string, qos: number) =>
      device.stream.send({
        device_id: "pub-raw",
        publish: { id, topic, payload: encode(CANARY), qos, retain: false },
      });
    // id 0: no answer expected, so the next ack read is for id 2.
    await send(0, "device/other/status", 1);
    await send(2, "telemetry/pub-raw", 7);
    await send(3, "telemetry/pub-raw/#", 0);
    await send(4, "device/other/status", 0);
    const acks = [];
    while (acks.length < 3) {
      const next = await device.next();
      assert.ok(!next.done, "the relay ended the stream");
      if (next.value.publish_ack) acks.push(next.value.publish_ack);
    }
    assert.deepEqual(acks.map((ack) => [Number(ack.id), ack.error]), [
      [2, "INVALID_REQUEST"],
      [3, "INVALID_REQUEST"],
      [4, "PERMISSION_DENIED"],
    ]);
    await device.heartbeat();
    for (;;) {
      const next = await device.next();
      assert.ok(!next.done);
      if (next.value.heartbeat_response) break;
    }
    assert.equal(t.relay.core.registry.get("pub-raw")?.state, "online");
    device.drop();
  },
);

contractTest(
  "publications made while disconnected go out after the reconnect",
  {
    config: { ...MQTT_OFF, "relay.session.resume_window_seconds": 5 },
  },
  async (t) => {
    const agent = await t.device("pub-queue");
    let queued: Promise<void> | undefined;
    const off = agent.onState((state) => {
      if (state.state === "disconnected" && queued === undefined) {
        queued = agent.publishStatus("offline for a moment");
      }
    });
    const resumed = agent.waitFor("connected", (state) => state.resumed);
    t.relay.core.registry.get("pub-queue")!.link!.close(
      new RelayError("UNAVAILABLE", "simulated transport failure"),
    );
    await resumed;
    off();
    assert.ok(queued, "the agent went through disconnected");
    // Answered by the relay (MQTT is off there), not failed locally.
    await assert.rejects(queued, rejectsWith("UNAVAILABLE", /MQTT is off/));
  },
);

contractTest(
  "relay device --status and --telemetry-interval publish through the relay",
  { config: MQTT_OFF },
  async (t) => {
    const credential = t.registerDevice("pub-cli");
    const keyDir = await Deno.makeTempDir({ prefix: "relay-pub-cli-" });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        MAIN,
        "device",
        "--id",
        "pub-cli",
        "--token",
        credential,
        "--e2e-key",
        `${keyDir}/key.json`,
        "--relay",
        t.relay.grpcAddress,
        "--quic-relay",
        t.relay.quicAddress,
        "--ca",
        t.relay.caPath,
        "--transport",
        t.transport,
        "--status",
        '{"firmware":"1.0"}',
        "--telemetry-interval",
        "200ms",
      ],
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    let stderr = "";
    const reading = (async () => {
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) stderr += chunk;
    })();
    try {
      await eventually(
        () =>
          /status not published \(UNAVAILABLE: MQTT is off/.test(stderr) &&
          /telemetry not published \(UNAVAILABLE: MQTT is off/.test(stderr),
        20_000,
        "the CLI's status and telemetry answers",
      );
      assert.ok(await publishCount(t, "unavailable") >= 2);
    } finally {
      child.kill("SIGINT");
      const status = await child.status;
      await reading;
      await Deno.remove(keyDir, { recursive: true });
      assert.equal(status.code, 0, stderr);
    }
  },
);
