// The MQTT tunnel end to end, over both transports: MQTT clients on the
// device's network (mosquitto_pub/_sub and mqtt.js, MQTT 3.1.1 and 5.0)
// connect to the device agent's local listener; their sessions reach the
// relay's broker (a real Mosquitto) through the relay under the device's
// topic ACL, with QoS 0, 1 and 2 intact.
import assert from "node:assert/strict";
import type { MqttClient } from "mqtt";
import {
  connectMqtt,
  mosquittoArgs,
  nextMessage,
  runCommand,
  tools,
  tunnelTest,
  versionsOf,
  withTunnel,
} from "./mqtt_tunnel_fixture.ts";
import { TRANSPORTS } from "./harness.ts";
import { generate } from "mqtt-packet";
import { eventually } from "./harness.ts";
import { MOSQUITTO_CLIENTS } from "./system_tools.ts";

const QOS = [0, 1, 2] as const;
const asNumber = (version: "311" | "5") => version === "5" ? 5 : 4;

tunnelTest(
  "mosquitto_pub/_sub publish and subscribe through the tunnel (3.1.1, 5.0; QoS 0, 1, 2)",
  async (f) => {
    const outside = await connectMqtt(f.broker.url, 4);
    try {
      await outside.subscribeAsync(`device/${f.deviceId}/#`, { qos: 2 });
      for (const version of versionsOf(f.broker)) {
        for (const qos of QOS) {
          // Tunnel -> broker: mosquitto_pub exits 0 only once its QoS flow completed.
          const topic = `device/${f.deviceId}/pub/${version}/${qos}`;
          const got = nextMessage(outside, topic);
          const pub = await runCommand(tools.path("mosquitto_pub"), [
            ...mosquittoArgs(f.port, version),
            "-q",
            String(qos),
            "-t",
            topic,
            "-m",
            `hello ${version} ${qos}`,
          ]);
          assert.equal(pub.code, 0, pub.stderr);
          assert.deepEqual(await got, {
            topic,
            payload: `hello ${version} ${qos}`,
            qos,
          });
          // Broker -> tunnel: retained, so the subscription cannot miss it.
          const cmd = `cmd/${f.deviceId}/sub/${version}/${qos}`;
          await outside.publishAsync(cmd, `cmd ${version} ${qos}`, {
            qos,
            retain: true,
          });
          const sub = await runCommand(tools.path("mosquitto_sub"), [
            ...mosquittoArgs(f.port, version),
            "-q",
            String(qos),
            "-t",
            cmd,
            "-C",
            "1",
            "-W",
            "10",
            "-v",
          ]);
          assert.equal(sub.code, 0, sub.stderr);
          assert.equal(sub.stdout, `${cmd} cmd ${version} ${qos}\n`);
        }
      }
    } finally {
      await outside.endAsync();
    }
    // The tunnels ran over the agent's transport.
    const opened = f.t.logLines.filter((line) =>
      line.includes("tunnel opened")
    );
    assert.ok(opened.length >= versionsOf(f.broker).length * 6);
    assert.ok(
      opened.every((line) => line.includes(`"transport":"${f.t.transport}"`)),
    );
    assert.deepEqual(f.tunnelErrors, []);
  },
  { needs: [MOSQUITTO_CLIENTS] },
);

tunnelTest(
  "mqtt.js sessions receive and publish live through the tunnel (3.1.1, 5.0; QoS 0, 1, 2)",
  async (f) => {
    const outside = await connectMqtt(f.broker.url, 4);
    try {
      await outside.subscribeAsync(`device/${f.deviceId}/#`, { qos: 2 });
      for (const version of versionsOf(f.broker).map(asNumber)) {
        const client = await connectMqtt(f.url, version, {
          clientId: `js-${version}`,
        });
        try {
          await client.subscribeAsync(`cmd/${f.deviceId}/js${version}/#`, {
            qos: 2,
          });
          for (const qos of QOS) {
            const topic = `cmd/${f.deviceId}/js${version}/${qos}`;
            const got = nextMessage(client, topic);
            await outside.publishAsync(topic, `to device ${qos}`, { qos });
            assert.deepEqual(await got, {
              topic,
              payload: `to device ${qos}`,
              qos,
            });
          }
          for (const qos of QOS) {
            const topic = `device/${f.deviceId}/js${version}/${qos}`;
            const got = nextMessage(outside, topic);
            await client.publishAsync(topic, `from device ${qos}`, { qos });
            assert.deepEqual(await got, {
              topic,
              payload: `from device ${qos}`,
              qos,
            });
          }
        } finally {
          await client.endAsync();
        }
      }
    } finally {
      await outside.endAsync();
    }
  },
);

/** What `outside` received on the device's topics, for "nothing refused got through" checks. */
function record(outside: MqttClient): string[] {
  const seen: string[] = [];
  outside.on("message", (topic) => seen.push(topic));
  return seen;
}

tunnelTest(
  "MQTT 5.0: ACL violations get reason 0x87 and the session keeps working",
  async (f) => {
    const outside = await connectMqtt(f.broker.url, 4);
    const client = await connectMqtt(f.url, 5);
    try {
      await outside.subscribeAsync("#", { qos: 1 });
      const seen = record(outside);
      const refusedSub = await client.subscribeAsync({
        [`cmd/${f.deviceId}/acl`]: { qos: 1 },
        "cmd/dev-2/#": { qos: 1 },
        "#": { qos: 0 },
      }).then(() => undefined, (error) => error);
      assert.deepEqual(refusedSub?.packet?.granted, [1, 0x87, 0x87]);
      for (const qos of [1, 2] as const) {
        await assert.rejects(
          client.publishAsync("device/dev-2/x", "not mine", { qos }),
          (error: { code?: number }) => error.code === 0x87,
        );
      }
      await client.publishAsync("telemetry/dev-2", "dropped", { qos: 0 });
      // The allowed subscription and an allowed publication still work.
      const command = nextMessage(client, `cmd/${f.deviceId}/acl`);
      await outside.publishAsync(`cmd/${f.deviceId}/acl`, "go", { qos: 1 });
      assert.equal((await command).payload, "go");
      const after = nextMessage(outside, `device/${f.deviceId}/after`);
      await client.publishAsync(`device/${f.deviceId}/after`, "ok", { qos: 1 });
      assert.equal((await after).payload, "ok");
      assert.ok(!seen.some((topic) => topic.includes("dev-2")), String(seen));
    } finally {
      await client.endAsync();
      await outside.endAsync();
    }
  },
  { brokers: ["mosquitto"] }, // aedes speaks 3.1.1 only
);

tunnelTest(
  "MQTT 3.1.1: refused filters get 0x80, refused publications are acknowledged and dropped",
  async (f) => {
    const outside = await connectMqtt(f.broker.url, 4);
    const client = await connectMqtt(f.url, 4);
    try {
      await outside.subscribeAsync("#", { qos: 1 });
      const seen = record(outside);
      const refusedSub = await client.subscribeAsync({
        [`cmd/${f.deviceId}/acl`]: { qos: 2 },
        "cmd/dev-2/#": { qos: 1 },
      }).then(() => undefined, (error) => error);
      assert.deepEqual(refusedSub?.packet?.granted, [2, 0x80]);
      // 3.1.1 cannot say "refused": PUBACK, and PUBREC + PUBCOMP for QoS 2.
      await client.publishAsync("device/dev-2/x", "not mine", { qos: 1 });
      await client.publishAsync("device/dev-2/y", "not mine", { qos: 2 });
      await client.publishAsync("device/dev-2/z", "not mine", { qos: 0 });
      const after = nextMessage(outside, `device/${f.deviceId}/after`);
      await client.publishAsync(`device/${f.deviceId}/after`, "ok", { qos: 2 });
      assert.equal((await after).payload, "ok");
      const command = nextMessage(client, `cmd/${f.deviceId}/acl`);
      await outside.publishAsync(`cmd/${f.deviceId}/acl`, "go", { qos: 2 });
      assert.deepEqual(await command, {
        topic: `cmd/${f.deviceId}/acl`,
        payload: "go",
        qos: 2,
      });
      assert.ok(!seen.some((topic) => topic.includes("dev-2")), String(seen));
    } finally {
      await client.endAsync();
      await outside.endAsync();
    }
  },
);

tunnelTest("CONNECT refusals: a will outside the ACL, MQTT 3.1", async (f) => {
  for (const [version, code] of [[5, 0x87], [4, 5]] as const) {
    await assert.rejects(
      connectMqtt(f.url, version, {
        will: { topic: "other/x", payload: "bye", qos: 0, retain: false },
      }),
      (error: { code?: number }) => error.code === code,
    );
  }
  const old = await runCommand(tools.path("mosquitto_pub"), [
    "-h",
    "127.0.0.1",
    "-p",
    String(f.port),
    "-V",
    "mqttv31",
    "-t",
    `device/${f.deviceId}/x`,
    "-m",
    "x",
  ]);
  assert.notEqual(old.code, 0);
  assert.match(old.stderr, /unacceptable protocol version/i);
  // mosquitto_sub understands the refusal of its only filter.
  for (const version of versionsOf(f.broker)) {
    const denied = await runCommand(tools.path("mosquitto_sub"), [
      ...mosquittoArgs(f.port, version),
      "-t",
      "cmd/dev-2/#",
      "-W",
      "5",
    ]);
    assert.equal(denied.stderr, "All subscription requests were denied.\n");
  }
}, { needs: [MOSQUITTO_CLIENTS] });

tunnelTest(
  "the embedded broker (3.1.1 only) refuses MQTT 5.0 clients itself",
  async (f) => {
    // The relay forwards the CONNECT; aedes answers "unacceptable protocol
    // version" and closes, and the tunnel ends with it.
    await assert.rejects(connectMqtt(f.url, 5), /protocol version/i);
    const pub = await runCommand(tools.path("mosquitto_pub"), [
      ...mosquittoArgs(f.port, "5"),
      "-t",
      `device/${f.deviceId}/x`,
      "-m",
      "x",
    ]);
    assert.notEqual(pub.code, 0);
    assert.match(pub.stderr, /protocol version/i);
    assert.deepEqual(f.tunnelErrors, []);
    // 3.1.1 clients are served as usual.
    const client = await connectMqtt(f.url, 4);
    await client.publishAsync(`device/${f.deviceId}/x`, "ok", { qos: 1 });
    await client.endAsync();
  },
  { brokers: ["embedded"], needs: [MOSQUITTO_CLIENTS] },
);

tunnelTest(
  "a bad or revoked credential ends the tunnel with UNAUTHORIZED",
  async (f) => {
    const bad = f.extraListener({ token: "rdc_not-the-credential" });
    await assert.rejects(connectMqtt(bad.url, 5));
    await eventually(() => bad.errors.length > 0, 3000, "tunnel error");
    assert.equal(bad.errors[0]!.code, "UNAUTHORIZED");
    assert.ok(
      f.t.logLines.some((line) =>
        line.includes("tunnel authentication failed")
      ),
    );

    // A revoked credential closes the device's open tunnels too.
    const client = await connectMqtt(f.url, 4);
    const closed = new Promise<void>((resolve) =>
      client.once("close", resolve)
    );
    const result = await f.t.controller().revokeToken({
      token: f.token,
      targetType: "DEVICE",
    });
    assert.ok(result.closedStreams >= 2, JSON.stringify(result)); // stream + tunnel
    await closed;
    await eventually(() => f.tunnelErrors.length > 0, 3000, "tunnel error");
    assert.equal(f.tunnelErrors[0]!.code, "UNAUTHORIZED");
    await client.endAsync(true);
  },
);

tunnelTest(
  "a client that never sends CONNECT, and a relay shutdown, end the tunnel",
  async (f) => {
    // Nothing sent: the relay gives up after the handshake timeout.
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: f.port });
    assert.equal(await silent.read(new Uint8Array(16)), null);
    silent.close();
    await eventually(() => f.tunnelErrors.length > 0, 3000, "tunnel error");
    assert.equal(f.tunnelErrors[0]!.code, "INVALID_REQUEST");
    assert.match(f.tunnelErrors[0]!.message, /no MQTT CONNECT within 0.3 s/);

    const client = await connectMqtt(f.url, 4);
    const closed = new Promise<void>((resolve) =>
      client.once("close", () => resolve())
    );
    await f.t.relay.shutdown();
    await closed;
    await eventually(() => f.tunnelErrors.length > 1, 3000, "shutdown error");
    assert.equal(f.tunnelErrors[1]!.code, "UNAVAILABLE");
    await client.endAsync(true);
  },
  { config: { "relay.session.handshake_timeout_seconds": 0.3 } },
);

tunnelTest(
  "a stalled tunnel blocks neither other tunnels nor the device's requests",
  async (f) => {
    // A raw client that subscribes and then never reads, on a listener that
    // drops clients reading nothing for 1 s.
    const slow = f.extraListener({ clientStallTimeoutMs: 1000 });
    const stalled = await Deno.connect({
      hostname: "127.0.0.1",
      port: slow.port,
    });
    const writer = stalled.writable.getWriter();
    await writer.write(generate({
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clientId: "stalled",
      clean: true,
      keepalive: 0,
    }));
    await writer.write(generate({
      cmd: "subscribe",
      messageId: 1,
      subscriptions: [{ topic: `cmd/${f.deviceId}/flood`, qos: 0 }],
    }));
    await eventually(
      () => f.broker.dialed === 1,
      3000,
      "stalled tunnel dialed",
    );
    const outside = await connectMqtt(f.broker.url, 4);
    const client = await connectMqtt(f.url, 4);
    const payload = await Deno.makeTempFile({ prefix: "mqtt-flood-" });
    try {
      await client.subscribeAsync(`cmd/${f.deviceId}/live`, { qos: 1 });
      // 32 MiB for the stalled client (published by another process, so
      // this one holds only what the relay and the agent buffer).
      await Deno.writeFile(payload, new Uint8Array(64 * 1024));
      const flood = await runCommand(tools.path("mosquitto_pub"), [
        ...mosquittoArgs(f.broker.port, "311"),
        "-t",
        `cmd/${f.deviceId}/flood`,
        "-f",
        payload,
        "--repeat",
        "512",
      ]);
      assert.equal(flood.code, 0, flood.stderr);
      for (let i = 0; i < 5; i++) {
        const got = nextMessage(client, `cmd/${f.deviceId}/live`);
        await outside.publishAsync(`cmd/${f.deviceId}/live`, `live ${i}`, {
          qos: 1,
        });
        assert.equal((await got).payload, `live ${i}`);
      }
      const answer = await f.t.controller(undefined, { e2e: false }).call(
        f.deviceId,
        "echo",
        new TextEncoder().encode("still here"),
      );
      assert.equal(new TextDecoder().decode(answer), "still here");
      if (f.broker.kind === "mosquitto") {
        // Mosquitto queues per subscriber: nothing waited for the drop.
        assert.equal(slow.listener.connections, 1);
      }
      // Backpressure reached the broker: the relay stopped reading for the
      // stalled session once the buffers on its path were full.
      const readForStalled = f.broker.bytesRead[0]!;
      assert.ok(
        readForStalled < 16 * 1024 * 1024,
        `relay read ${readForStalled} bytes for a client that reads nothing`,
      );
      // The stalled client is dropped (aedes waits for a slow subscriber
      // before delivering to anyone: the drop is what let it go on).
      await eventually(() => slow.errors.length > 0, 5000, "stalled drop");
      assert.equal(slow.errors[0]!.code, "DEADLINE_EXCEEDED");
      assert.match(slow.errors[0]!.message, /read nothing for 1 s/);
    } finally {
      await client.endAsync();
      await outside.endAsync();
      await Deno.remove(payload);
      writer.releaseLock();
      stalled.close();
    }
  },
  { needs: [MOSQUITTO_CLIENTS] },
);

for (const transport of TRANSPORTS) {
  Deno.test(`an unreachable broker: CONNACK "server unavailable" and UNAVAILABLE [${transport}]`, async () => {
    const dialer = {
      dial: () => Promise.reject(new Error("connection refused")),
    };
    await withTunnel({ transport, broker: "embedded", dialer }, async (f) => {
      for (const [version, code] of [[4, 0x03], [5, 0x88]] as const) {
        await assert.rejects(
          connectMqtt(f.url, version),
          (error: { code?: number }) => error.code === code,
        );
      }
      await eventually(() => f.tunnelErrors.length === 2, 3000, "errors");
      assert.ok(f.tunnelErrors.every((error) =>
        error.code === "UNAVAILABLE" &&
        /cannot reach the MQTT broker/.test(error.message)
      ));
    });
  });
}
