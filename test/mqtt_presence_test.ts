// MQTT presence, relay status and telemetry with the embedded broker (aedes
// on an ephemeral loopback port), observed by real MQTT subscribers.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import mqttPacket from "mqtt-packet";
import { encode, startTestRelay } from "./harness.ts";
import { assertPayload } from "./mqtt_payload_schemas.ts";
import {
  type BrokerUnderTest,
  lifecycleScenario,
  ONLINE,
  presenceTopic,
  reportLatency,
  resumeWindowScenario,
  shutdownScenario,
  statusTopic,
  timeoutScenario,
  uniqueId,
  withPresenceRelay,
} from "./mqtt_presence_scenarios.ts";
import { MqttSubscriber } from "./mqtt_subscriber.ts";

const EMBEDDED: BrokerUnderTest = { config: {} };

Deno.test("embedded: online, graceful, revoked and replaced events with growing generations", () =>
  lifecycleScenario(EMBEDDED));

Deno.test("embedded: a silent device goes suspect, then offline (timeout)", () =>
  timeoutScenario(EMBEDDED));

Deno.test("embedded: a dropped device goes offline when its resume window expires", () =>
  resumeWindowScenario(EMBEDDED));

Deno.test("embedded: shutdown sends devices offline (relay_shutdown), then the relay", () =>
  shutdownScenario(EMBEDDED));

Deno.test("embedded: a late subscriber learns the current fleet from retained presence", async () => {
  await withPresenceRelay(EMBEDDED, {}, async (t, sub, relayId) => {
    const stays = uniqueId("stays");
    const leaves = uniqueId("leaves");
    await t.device(stays);
    const leaving = await t.device(leaves);
    await leaving.close();
    await sub.waitFor(
      (m) => m.topic === presenceTopic(leaves) && m.text === "",
      "presence of the leaving device cleared",
    );
    const late = await MqttSubscriber.connect(t.mqttUrl, [
      "relay/device/+/presence",
      "relay/relay/+/status",
    ]);
    try {
      const presence = await late.waitForJson(presenceTopic(stays), {
        state: "online",
        relay_id: relayId,
      });
      assert.equal(presence.received.retain, true);
      const status = await late.waitForJson(statusTopic(relayId), {
        state: "online",
      });
      assert.equal(status.received.retain, true);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(
        !late.messages.some((m) => m.topic === presenceTopic(leaves)),
        "nothing retained for a device that went offline",
      );
    } finally {
      await late.close();
    }
  });
});

Deno.test("embedded: relay telemetry reports real figures", async () => {
  await withPresenceRelay(
    EMBEDDED,
    { "relay.mqtt.telemetry_interval_seconds": 0.1 },
    async (t, sub, relayId) => {
      const id = uniqueId("busy");
      await t.device(id);
      const controller = t.controller(undefined, { e2e: false });
      for (let i = 0; i < 5; i++) {
        await controller.call(id, "echo", encode(`hello ${i}`));
      }
      await assert.rejects(
        controller.call("no-such-device", "echo", encode("x")),
      );
      const topic = `telemetry/relay/${relayId}`;
      let requests = 0;
      let errors = 0;
      const report = await sub.waitFor((m) => {
        if (m.topic !== topic) return false;
        assertPayload("relay_telemetry", m.text);
        const value = JSON.parse(m.text);
        requests += value.requests.count;
        errors += value.requests.errors;
        return requests >= 6 && errors >= 1 && value.devices.connected === 1;
      }, "telemetry with the requests made");
      const value = JSON.parse(report.text);
      assert.equal(value.relay_id, relayId);
      assert.deepEqual(value.devices.by_transport, { h2: 1 });
      assert.equal(value.devices.by_state.online, 1);
      assert.ok(value.streams.device >= 1, "the device stream is open");
      assert.ok(value.streams.controller >= 1, "the controller stream is open");
      assert.equal(value.mqtt.connected, true);
      assert.ok(value.memory.rss_bytes > 10_000_000);
      assert.ok(value.memory.heap_used_bytes > 0);
      assert.ok(value.interval_seconds > 0.05 && value.interval_seconds < 2);
      assert.equal(requests, 6, "each request is counted in one report");
    },
    [`telemetry/relay/+`],
  );
});

Deno.test("embedded: /health has an mqtt component and /metrics the MQTT figures", async () => {
  const t = await startTestRelay();
  try {
    const base = `http://127.0.0.1:${t.relay.healthPort}`;
    const health = await (await fetch(`${base}/health`)).json();
    assert.equal(health.status, "healthy");
    assert.equal(health.components.mqtt.status, "healthy");
    assert.match(
      health.components.mqtt.message,
      /embedded broker on mqtt:\/\/127\.0\.0\.1:\d+, connected/,
    );
    assert.equal(health.metrics.mqtt.connected, true);
    assert.equal(health.metrics.mqtt.url, t.mqttUrl);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /^relay_mqtt_connected 1$/m);
    assert.match(metrics, /^relay_mqtt_dropped_total 0$/m);
    assert.match(metrics, /^relay_mqtt_queue 0$/m);
    assert.match(metrics, /^relay_mqtt_published_total [1-9]/m);
  } finally {
    await t.close();
  }
});

Deno.test("embedded: a taken broker port leaves the relay up, MQTT degraded and in process", async () => {
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const t = await startTestRelay({
    config: {
      "relay.mqtt.embedded_address": `127.0.0.1:${blocker.addr.port}`,
    },
  });
  try {
    assert.equal(t.mqttUrl, "");
    const id = uniqueId("dev");
    await t.device(id);
    const controller = t.controller(undefined, { e2e: false });
    assert.equal(
      new TextDecoder().decode(await controller.call(id, "echo", encode("ok"))),
      "ok",
    );
    const health = await (await fetch(
      `http://127.0.0.1:${t.relay.healthPort}/health`,
    )).json();
    assert.equal(health.status, "degraded");
    assert.equal(health.components.mqtt.status, "degraded");
    assert.match(
      health.components.mqtt.message,
      /in process only \(cannot listen/,
    );
    assert.ok(
      t.logLines.some((line) =>
        line.includes("embedded MQTT broker cannot listen")
      ),
    );
    // Publishing and broker connections still work in process.
    const connection = await t.relay.mqtt!.dialer.dial();
    connection.close();
  } finally {
    await t.close();
    blocker.close();
  }
});

Deno.test("relay.mqtt.enabled false: no broker, no MQTT metrics, health says off", async () => {
  const t = await startTestRelay({ config: { "relay.mqtt.enabled": false } });
  try {
    assert.equal(t.relay.mqtt, undefined);
    assert.equal(t.mqttUrl, "");
    await t.device(uniqueId("dev"));
    const base = `http://127.0.0.1:${t.relay.healthPort}`;
    const health = await (await fetch(`${base}/health`)).json();
    assert.equal(health.status, "healthy");
    assert.equal(
      health.components.mqtt.message,
      "off: disabled by relay.mqtt.enabled",
    );
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.doesNotMatch(metrics, /relay_mqtt_/);
  } finally {
    await t.close();
  }
});

Deno.test("embedded: the broker dialer gives a raw MQTT connection", async () => {
  const t = await startTestRelay();
  const sub = await MqttSubscriber.connect(t.mqttUrl, ["cmd/#"]);
  try {
    const connection = await t.relay.mqtt!.dialer.dial();
    const writer = connection.writable.getWriter();
    const reader = connection.readable.getReader();
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const packets: mqttPacket.Packet[] = [];
    parser.on("packet", (packet) => packets.push(packet));
    const next = async (cmd: string) => {
      while (!packets.some((p) => p.cmd === cmd)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`connection ended before ${cmd}`);
        parser.parse(Buffer.from(value));
      }
      return packets.find((p) => p.cmd === cmd)!;
    };
    await writer.write(mqttPacket.generate({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clean: true,
      clientId: "dialer-test",
      keepalive: 30,
    }));
    const connack = await next("connack") as mqttPacket.IConnackPacket;
    assert.equal(connack.returnCode, 0);
    await writer.write(mqttPacket.generate({
      cmd: "publish",
      topic: "cmd/dialer",
      payload: "through the dialer",
      qos: 1,
      messageId: 7,
      dup: false,
      retain: false,
    }));
    const puback = await next("puback") as mqttPacket.IPubackPacket;
    assert.equal(puback.messageId, 7);
    const received = await sub.waitFor(
      (m) => m.topic === "cmd/dialer",
      "dialed publication",
    );
    assert.equal(received.text, "through the dialer");
    // Only the relay itself may publish relay topics on the embedded broker:
    // the broker ends a connection that tries.
    await writer.write(mqttPacket.generate({
      cmd: "publish",
      topic: "relay/device/online",
      payload: "{}",
      qos: 0,
      dup: false,
      retain: false,
    }));
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    reader.releaseLock();
    writer.releaseLock();
    connection.close();
    assert.ok(!sub.messages.some((m) => m.topic === "relay/device/online"));
  } finally {
    await sub.close();
    await t.close();
  }
});

Deno.test("embedded: latency from device connect to the online event at a subscriber", async () => {
  await withPresenceRelay(EMBEDDED, {}, async (t, sub) => {
    const fromConnect: number[] = [];
    const fromEvent: number[] = [];
    for (let i = 0; i < 10; i++) {
      const id = uniqueId("lat");
      const token = t.registerDevice(id);
      await t.deviceKey(id);
      const started = performance.timeOrigin + performance.now();
      const agent = t.device(id, { token });
      const online = await sub.waitForJson<{ time: string }>(ONLINE, {
        device_id: id,
      });
      fromConnect.push(online.received.at - started);
      fromEvent.push(online.received.at - Date.parse(online.time));
      await (await agent).close();
    }
    reportLatency("embedded aedes", fromConnect, fromEvent);
  }, [ONLINE]);
});
