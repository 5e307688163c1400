import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as mqttPacket from "mqtt-packet";
import type { Packet } from "mqtt-packet";
import { TopicAcl } from "./topic_acl.ts";
import {
  MqttTunnelSession,
  type SessionOutput,
} from "./tunnel_mqtt_session.ts";

const acl = new TopicAcl({
  publish: ["device/{device_id}/#", "telemetry/{device_id}"],
  subscribe: ["cmd/{device_id}/#"],
});

function encode(packet: Packet, version: 4 | 5): Uint8Array {
  return mqttPacket.generate(packet, { protocolVersion: version });
}

function decode(bytes: Uint8Array, version: 4 | 5): Packet[] {
  const packets: Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: version });
  parser.on("packet", (packet) => packets.push(packet));
  parser.on("error", (error) => {
    throw error;
  });
  parser.parse(Buffer.from(bytes));
  return packets;
}

function session(version: 4 | 5, connect: Partial<Packet> = {}) {
  const refusals: string[] = [];
  const s = new MqttTunnelSession({
    deviceId: "dev-1",
    acl,
    randomId: () => "rnd",
    onRefusal: (packet) => refusals.push(packet),
  });
  const out = send(s, {
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: version,
    clientId: "cli",
    clean: true,
    keepalive: 30,
    username: "user",
    password: Buffer.from("pass"),
    ...connect,
  } as Packet, version);
  return { s, out, refusals };
}

function send(s: MqttTunnelSession, packet: Packet, version: 4 | 5) {
  const out: SessionOutput = { toBroker: [], toClient: [] };
  s.fromClient(encode(packet, version), out);
  return out;
}

function fromBroker(s: MqttTunnelSession, packet: Packet, version: 4 | 5) {
  const out: SessionOutput = { toBroker: [], toClient: [] };
  s.fromBroker(encode(packet, version), out);
  return out;
}

function only(parts: Uint8Array[], version: 4 | 5): Packet {
  assert.equal(parts.length, 1);
  const packets = decode(parts[0]!, version);
  assert.equal(packets.length, 1);
  return packets[0]!;
}

for (const version of [4, 5] as const) {
  Deno.test(`CONNECT: client id prefixed, credentials dropped [v${version}]`, () => {
    const { out } = session(version);
    const connect = only(out.toBroker, version) as Packet & {
      clientId: string;
      username?: string;
    };
    assert.equal(connect.clientId, "dev-1/cli");
    assert.equal(connect.username, undefined);
    assert.deepEqual(out.toClient, []);
    assert.equal(out.end, undefined);
  });

  Deno.test(`CONNECT: will outside the ACL refused [v${version}]`, () => {
    const { out, refusals } = session(version, {
      will: {
        topic: "other/x",
        payload: Buffer.from("bye"),
        qos: 0,
        retain: false,
      },
    } as Partial<Packet>);
    assert.deepEqual(out.toBroker, []);
    const connack = only(out.toClient, version) as {
      returnCode?: number;
      reasonCode?: number;
    };
    if (version === 5) assert.equal(connack.reasonCode, 0x87);
    else assert.equal(connack.returnCode, 5);
    assert.ok(out.end);
    assert.deepEqual(refusals, ["will", "connect"]);
  });

  Deno.test(`PUBLISH: allowed passes byte-exact, refused gets the refusal [v${version}]`, () => {
    const { s } = session(version);
    const allowed = encode({
      cmd: "publish",
      topic: "device/dev-1/x",
      payload: Buffer.from("a"),
      qos: 1,
      messageId: 1,
      dup: false,
      retain: false,
    }, version);
    const out: SessionOutput = { toBroker: [], toClient: [] };
    s.fromClient(allowed, out);
    assert.deepEqual(out.toBroker, [allowed]);

    // QoS 0: dropped silently.
    const q0 = send(s, {
      cmd: "publish",
      topic: "device/dev-2/x",
      payload: Buffer.from("a"),
      qos: 0,
      dup: false,
      retain: false,
    }, version);
    assert.deepEqual(q0, { toBroker: [], toClient: [] });

    // QoS 1 refused while id 1 is outstanding: held until the broker acks id 1.
    const q1 = send(s, {
      cmd: "publish",
      topic: "device/dev-2/x",
      payload: Buffer.from("a"),
      qos: 1,
      messageId: 2,
      dup: false,
      retain: false,
    }, version);
    assert.deepEqual(q1, { toBroker: [], toClient: [] });
    const acked = fromBroker(s, { cmd: "puback", messageId: 1 }, version);
    assert.equal(acked.toClient.length, 2);
    const [first, second] = acked.toClient.flatMap((b) => decode(b, version));
    assert.equal(first!.messageId, 1);
    assert.equal(second!.cmd, "puback");
    assert.equal(second!.messageId, 2);
    assert.equal(
      (second as { reasonCode?: number }).reasonCode ?? 0,
      version === 5 ? 0x87 : 0,
    );

    // QoS 2 refused: PUBREC now (nothing outstanding).
    const q2 = send(s, {
      cmd: "publish",
      topic: "cmd/dev-1/x",
      payload: Buffer.from("a"),
      qos: 2,
      messageId: 3,
      dup: false,
      retain: false,
    }, version);
    const pubrec = only(q2.toClient, version) as { reasonCode?: number };
    assert.equal((pubrec as Packet).cmd, "pubrec");
    assert.equal(pubrec.reasonCode ?? 0, version === 5 ? 0x87 : 0);
    const rel = send(s, { cmd: "pubrel", messageId: 3 }, version);
    if (version === 4) {
      assert.deepEqual(rel.toBroker, []);
      assert.equal(only(rel.toClient, version).cmd, "pubcomp");
    } else {
      // 5.0: a PUBREC >= 0x80 ended the flow; a stray PUBREL is the broker's business.
      assert.equal(rel.toBroker.length, 1);
    }
  });

  Deno.test(`SUBSCRIBE: refused filters removed, SUBACK merged [v${version}]`, () => {
    const { s, refusals } = session(version);
    const out = send(s, {
      cmd: "subscribe",
      messageId: 7,
      subscriptions: [
        { topic: "cmd/dev-2/#", qos: 1 },
        { topic: "cmd/dev-1/a", qos: 2 },
        { topic: "#", qos: 0 },
      ],
    }, version);
    const forwarded = only(out.toBroker, version) as {
      subscriptions: { topic: string }[];
      messageId: number;
    };
    assert.equal(forwarded.messageId, 7);
    assert.deepEqual(forwarded.subscriptions.map((s) => s.topic), [
      "cmd/dev-1/a",
    ]);
    const suback = fromBroker(s, {
      cmd: "suback",
      messageId: 7,
      granted: [2],
    }, version);
    const refusal = version === 5 ? 0x87 : 0x80;
    assert.deepEqual(
      (only(suback.toClient, version) as { granted: number[] }).granted,
      [refusal, 2, refusal],
    );
    assert.deepEqual(refusals, ["subscribe"]);

    const none = send(s, {
      cmd: "subscribe",
      messageId: 8,
      subscriptions: [{ topic: "device/dev-1/x", qos: 0 }],
    }, version);
    assert.deepEqual(none.toBroker, []);
    const own = only(none.toClient, version) as {
      granted: number[];
      messageId: number;
    };
    assert.equal(own.messageId, 8);
    assert.deepEqual(own.granted, [refusal]);
  });
}

Deno.test("CONNECT: MQTT 3.1 refused with 0x01", () => {
  const s = new MqttTunnelSession({ deviceId: "dev-1", acl });
  const out: SessionOutput = { toBroker: [], toClient: [] };
  s.fromClient(
    encode({
      cmd: "connect",
      protocolId: "MQIsdp",
      protocolVersion: 3,
      clientId: "x",
      clean: true,
      keepalive: 10,
    }, 4),
    out,
  );
  assert.equal((only(out.toClient, 4) as { returnCode: number }).returnCode, 1);
  assert.ok(out.end);
});

Deno.test("CONNECT v5: empty client id gets a suffix, announced in CONNACK", () => {
  const { s, out } = session(5, { clientId: "" } as Partial<Packet>);
  assert.equal(
    (only(out.toBroker, 5) as { clientId: string }).clientId,
    "dev-1/rnd",
  );
  const connack = fromBroker(s, {
    cmd: "connack",
    sessionPresent: false,
    reasonCode: 0,
  }, 5);
  const packet = only(connack.toClient, 5) as {
    properties?: { assignedClientIdentifier?: string };
  };
  assert.equal(packet.properties?.assignedClientIdentifier, "rnd");
});

Deno.test("PUBLISH v5: topic aliases resolve to the topic they stand for", () => {
  const { s } = session(5);
  const publish = (topic: string, alias: number) =>
    send(s, {
      cmd: "publish",
      topic,
      payload: Buffer.from("a"),
      qos: 0,
      dup: false,
      retain: false,
      properties: { topicAlias: alias },
    }, 5);
  assert.equal(publish("device/dev-1/a", 1).toBroker.length, 1);
  assert.equal(publish("", 1).toBroker.length, 1);
  assert.equal(publish("other/x", 1).toBroker.length, 0);
  assert.equal(publish("", 1).toBroker.length, 0); // alias 1 is other/x now
  const unknown = publish("", 9);
  assert.ok(unknown.end);
  assert.equal(only(unknown.toClient, 5).cmd, "disconnect");
});
