import assert from "node:assert/strict";
import type { PresenceEvent } from "../core/device_registry.ts";
import { DeviceSession } from "../core/device_session.ts";
import type { MqttPublisher, PublishOptions } from "./mqtt_ports.ts";
import { PresencePublisher } from "./presence_publisher.ts";

interface Published extends PublishOptions {
  topic: string;
  payload: string;
}

function setup() {
  const published: Published[] = [];
  const publisher: MqttPublisher = {
    publish: (topic, payload, options) =>
      published.push({ topic, payload: String(payload), ...options }),
  };
  const presence = new PresencePublisher({
    relayId: "relay-a",
    relayAddress: () => "relay-a.example:50051",
    publisher,
  });
  return { published, presence };
}

function session(deviceId: string, generation = 1): DeviceSession {
  const s = new DeviceSession({
    deviceId,
    project: "default",
    connectionId: `conn_${deviceId}`,
    metadata: {},
    grpcTarget: false,
    maxPending: 1,
    now: 1_000,
  });
  s.generation = generation;
  s.transport = "quic";
  s.state = "online";
  return s;
}

Deno.test("events carry the event time and a generation that grows per change", () => {
  const { published, presence } = setup();
  const s = session("dev-1");
  // Two changes in the same millisecond, then one earlier (a clock step back).
  const events: PresenceEvent[] = [
    { type: "online", session: s, resumed: false, at: 5_000 },
    { type: "state", session: s, state: "suspect", at: 5_000 },
    { type: "offline", session: s, reason: "timeout", at: 4_000 },
  ];
  for (const event of events) presence.onEvent(event);
  const generations = published.filter((p) => p.payload !== "").map((p) =>
    JSON.parse(p.payload).generation
  );
  assert.deepEqual(generations, [
    5_000_000,
    5_000_000,
    5_000_001,
    5_000_002,
  ]);
  const offline = JSON.parse(published.at(-1)!.payload);
  assert.equal(offline.time, new Date(4_000).toISOString());
  assert.equal(offline.reason, "timeout");
  assert.equal(offline.transport, "quic");
  assert.equal(offline.relay_address, "relay-a.example:50051");
  // Offline clears the retained presence (empty, retained, QoS 1).
  assert.deepEqual(published.at(-2), {
    topic: "relay/device/dev-1/presence",
    payload: "",
    qos: 1,
    retain: true,
  });
  assert.equal(presence.size, 0);
});

Deno.test("the snapshot re-publishes the current presence of every device", () => {
  const { published, presence } = setup();
  presence.onEvent({
    type: "online",
    session: session("a"),
    resumed: false,
    at: 1,
  });
  presence.onEvent({
    type: "online",
    session: session("b"),
    resumed: false,
    at: 2,
  });
  presence.onEvent({
    type: "offline",
    session: session("b"),
    reason: "graceful",
    at: 3,
  });
  const before = published.length;
  presence.publishSnapshot();
  const snapshot = published.slice(before);
  assert.deepEqual(snapshot.map((p) => p.topic), ["relay/device/a/presence"]);
  assert.equal(snapshot[0]!.retain, true);
  assert.equal(JSON.parse(snapshot[0]!.payload).state, "online");
});

Deno.test("stale retained presence of this relay is cleared, others' is left alone", () => {
  const { published, presence } = setup();
  presence.onEvent({
    type: "online",
    session: session("here"),
    resumed: false,
    at: 1,
  });
  const before = published.length;
  const retained = (relayId: string) =>
    new TextEncoder().encode(JSON.stringify({ relay_id: relayId }));
  presence.onRetained("gone", retained("relay-a"));
  presence.onRetained("here", retained("relay-a"));
  presence.onRetained("elsewhere", retained("relay-b"));
  presence.onRetained("garbage", new TextEncoder().encode("not json"));
  presence.onRetained("empty", new Uint8Array());
  assert.deepEqual(published.slice(before), [{
    topic: "relay/device/gone/presence",
    payload: "",
    qos: 1,
    retain: true,
  }]);
});
