// Device status and telemetry through the relay connection (DevicePublish /
// PublishAck), over every transport: the relay republishes only the device's
// own topics, answers every publication, and one refused publication never
// costs the device its stream.
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import mqtt from "mqtt";
import { RelayError } from "../src/errors/relay_error.ts";
import {
  contractTest,
  decode,
  encode,
  eventually,
  type TestRelay,
} from "./harness.ts";
import { assertPayload } from "./mqtt_payload_schemas.ts";
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

interface Received {
  topic: string;
  bytes: Uint8Array;
  payload: string;
  qos: number;
  retain: boolean;
}

/** An mqtt.js subscriber on the relay's broker, collecting what arrives. */
async function subscribe(t: TestRelay, filters: string[]) {
  assert.ok(t.mqttUrl !== "", "the test relay runs a broker");
  const client = await mqtt.connectAsync(t.mqttUrl, {
    reconnectPeriod: 0,
    connectTimeout: 5000,
  }, false);
  const received: Received[] = [];
  client.on("message", (topic, payload, packet) => {
    received.push({
      topic,
      bytes: new Uint8Array(payload),
      payload: decode(payload),
      qos: packet.qos,
      retain: packet.retain,
    });
  });
  await client.subscribeAsync(filters, { qos: 1 });
  return {
    received,
    async next(topic: string): Promise<Received> {
      let found: Received | undefined;
      await eventually(
        () => (found = received.find((m) => m.topic === topic)) !== undefined,
        5000,
        `a message on ${topic}`,
      );
      return found!;
    },
    close: () => client.endAsync(),
  };
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
  {},
  async (t) => {
    const watcher = await subscribe(t, [
      "device/pub-cli/status",
      "telemetry/pub-cli",
    ]);
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
          /status published on device\/pub-cli\/status/.test(stderr) &&
          /telemetry published on telemetry\/pub-cli/.test(stderr),
        20_000,
        "the CLI's status and telemetry answers",
      );
      const statusText = (await watcher.next("device/pub-cli/status")).payload;
      assertPayload("device_status", statusText);
      const status = JSON.parse(statusText);
      assert.equal(status.firmware, "1.0");
      assert.equal(status.device_id, "pub-cli");
      const telemetryText = (await watcher.next("telemetry/pub-cli")).payload;
      assertPayload("device_telemetry", telemetryText);
      const telemetry = JSON.parse(telemetryText);
      assert.equal(telemetry.device_id, "pub-cli");
      assert.equal(telemetry.state, "connected");
      assert.equal(telemetry.transport, t.transport);
      assert.equal(typeof telemetry.uptime_seconds, "number");
      assert.equal(telemetry.requests_handled, 0);
      assert.ok(telemetry.memory.rss_bytes > 0);
    } finally {
      child.kill("SIGINT");
      const status = await child.status;
      await reading;
      await watcher.close();
      await Deno.remove(keyDir, { recursive: true });
      assert.equal(status.code, 0, stderr);
    }
  },
);

contractTest(
  "status and telemetry arrive on the device's own topics",
  {},
  async (t) => {
    const watcher = await subscribe(t, ["device/+/status", "telemetry/#"]);
    try {
      const agent = await t.device("pub-s");
      await agent.publishStatus({ firmware: "1.0", device_id: "forged" });
      await agent.publishTelemetry({ temperature: 21.5 });
      const status = await watcher.next("device/pub-s/status");
      const document = JSON.parse(status.payload);
      assert.equal(document.firmware, "1.0");
      assert.equal(document.device_id, "pub-s", "the agent's id wins");
      assert.ok(Math.abs(document.timestamp - Date.now()) < 60_000);
      assert.equal(status.qos, 1);
      const telemetry = await watcher.next("telemetry/pub-s");
      assert.deepEqual(
        { ...JSON.parse(telemetry.payload), timestamp: 0 },
        { temperature: 21.5, device_id: "pub-s", timestamp: 0 },
      );
      assert.equal(await publishCount(t, "ok"), 2);
    } finally {
      await watcher.close();
    }
    // Status is retained: a later subscriber gets it at once.
    const late = await subscribe(t, ["device/pub-s/status"]);
    try {
      const retained = await late.next("device/pub-s/status");
      assert.equal(retained.retain, true);
      assert.equal(JSON.parse(retained.payload).firmware, "1.0");
    } finally {
      await late.close();
    }
  },
);

contractTest(
  "a QoS 1 publication is delivered with QoS 1, bytes unchanged",
  {},
  async (t) => {
    const watcher = await subscribe(t, ["telemetry/pub-q/#"]);
    try {
      const agent = await t.device("pub-q");
      const bytes = new Uint8Array([0, 1, 2, 250, 255]);
      await agent.publish("telemetry/pub-q/raw", bytes, { qos: 1 });
      await agent.publish("telemetry/pub-q/text", "plain text", { qos: 1 });
      const raw = await watcher.next("telemetry/pub-q/raw");
      assert.equal(raw.qos, 1);
      assert.equal(raw.retain, false);
      assert.deepEqual(raw.bytes, bytes);
      const text = await watcher.next("telemetry/pub-q/text");
      assert.equal(text.payload, "plain text");
    } finally {
      await watcher.close();
    }
  },
);

contractTest(
  "a refused publication never reaches the broker",
  {},
  async (t) => {
    const watcher = await subscribe(t, ["#"]);
    try {
      const agent = await t.device("pub-x");
      await assert.rejects(
        agent.publish("device/pub-y/status", CANARY, { qos: 1 }),
        rejectsWith("PERMISSION_DENIED", /"device\/pub-y\/status"/),
      );
      await assert.rejects(
        agent.publish("telemetry/relay/relay-001", CANARY),
        rejectsWith("PERMISSION_DENIED"),
      );
      // Publications are forwarded in order: once this one is here, the
      // refused ones would have been too.
      await agent.publish("telemetry/pub-x", "after", { qos: 1 });
      await watcher.next("telemetry/pub-x");
      assert.deepEqual(
        watcher.received.filter((m) => m.payload.includes(CANARY)),
        [],
      );
      await expectAudit(t, "access_denied", {
        principal: principal("pub-x"),
        reason: /device\/pub-y\/status/,
      });
    } finally {
      await watcher.close();
    }
  },
);

contractTest(
  "a publication made just before close() is still acknowledged",
  {},
  async (t) => {
    const agent = await t.device("pub-close");
    const last = agent.publishStatus({ state: "shutting down" });
    await agent.close();
    await last;
    await assert.rejects(
      agent.publishStatus({ state: "closed" }),
      rejectsWith("CANCELLED"),
    );
  },
);
