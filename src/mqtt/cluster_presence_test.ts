import assert from "node:assert/strict";
import type {
  RemoteHolder,
  RemotePresenceChange,
} from "../cluster/remote_presence.ts";
import type { OfflineReason } from "../core/device_registry.ts";
import { DeviceSession } from "../core/device_session.ts";
import {
  ClusterPresence,
  type ClusterPresenceMode,
  type RemotePresenceSource,
} from "./cluster_presence.ts";
import type { MqttPublisher } from "./mqtt_ports.ts";
import { GenerationClock, PresencePublisher } from "./presence_publisher.ts";

function setup(mode: ClusterPresenceMode, janitor = true) {
  const published: { topic: string; payload: string }[] = [];
  const publisher: MqttPublisher = {
    publish: (topic, payload) =>
      published.push({ topic, payload: String(payload) }),
  };
  const holders = new Map<string, RemoteHolder>();
  let listener: (change: RemotePresenceChange) => void = () => {};
  const source: RemotePresenceSource = {
    current: (deviceId) => holders.get(deviceId),
    isJanitor: () => janitor,
    start: (l) => listener = l,
    close: () => {},
  };
  const clock = new GenerationClock();
  const local = new PresencePublisher({
    relayId: "relay-a",
    relayAddress: () => "a:50051",
    publisher,
    clock,
  });
  const presence = new ClusterPresence({
    relayId: "relay-a",
    relayAddress: () => "a:50051",
    mode,
    local,
    source,
    publisher,
    clock,
  });
  presence.start();
  const remote = (change: Omit<RemotePresenceChange, "at">) => {
    if (change.holder) holders.set(change.deviceId, change.holder);
    else holders.delete(change.deviceId);
    listener({ ...change, at: 2_000 });
  };
  const events = (topic: string) =>
    published.filter((p) => p.topic === topic).map((p) =>
      p.payload === "" ? null : JSON.parse(p.payload)
    );
  return { presence, remote, events, holders };
}

function holder(deviceId: string, relayId: string, conn = "conn_b") {
  return {
    deviceId,
    relayId,
    connectionId: conn,
    state: "online" as const,
    info: {
      device_id: deviceId,
      connection_id: conn,
      relay_address: `${relayId}:50051`,
      connected_at: 1_000,
      last_seen: 1_500,
      transport: "h2",
      project: "default",
    },
    sessionGeneration: 3,
  };
}

function session(deviceId: string): DeviceSession {
  const s = new DeviceSession({
    deviceId,
    project: "default",
    connectionId: `conn_${deviceId}`,
    metadata: {},
    grpcTarget: false,
    maxPending: 1,
    now: 1_000,
  });
  s.generation = 1;
  s.transport = "quic";
  return s;
}

const offline = (s: DeviceSession, reason: string) => ({
  type: "offline" as const,
  session: s,
  reason: reason as OfflineReason,
  at: 3_000,
});

Deno.test("all: another relay's device is online, with a state change and an offline naming that relay", () => {
  const { remote, events } = setup("all");
  const b = holder("dev-1", "relay-b");
  remote({ deviceId: "dev-1", holder: b, previous: undefined });
  remote({
    deviceId: "dev-1",
    holder: { ...b, state: "suspect" },
    previous: b,
  });
  remote({
    deviceId: "dev-1",
    holder: undefined,
    previous: b,
    reason: "remote",
  });
  assert.deepEqual(
    events("relay/device/online").map((e) => [e.relay_id, e.relay_address]),
    [["relay-b", "relay-b:50051"]],
  );
  assert.deepEqual(
    events("relay/device/dev-1/presence").map((e) => e?.state ?? null),
    ["online", "suspect", null],
  );
  assert.deepEqual(
    events("relay/device/offline").map((e) => [e.relay_id, e.reason]),
    [["relay-b", "remote"]],
  );
});

Deno.test("all: a local session that moved away publishes its new holder, never an offline", () => {
  const { presence, remote, events } = setup("all");
  const s = session("dev-2");
  presence.onLocalEvent({ type: "online", session: s, resumed: false, at: 1 });
  // Its new holder, while the session here still exists: this relay's wins.
  remote({
    deviceId: "dev-2",
    holder: holder("dev-2", "relay-b", s.connectionId),
    previous: undefined,
  });
  assert.equal(events("relay/device/online").length, 1);
  presence.onLocalEvent(offline(s, "resume_window_expired"));
  const online = events("relay/device/online");
  assert.deepEqual(online.map((e) => e.relay_id), ["relay-a", "relay-b"]);
  assert.equal(online[1].resumed, true, "the same connection elsewhere");
  assert.deepEqual(events("relay/device/offline"), []);
});

Deno.test("all: 'moved' before the new holder is in the view: nothing, then the holder's online", () => {
  const { presence, remote, events } = setup("all");
  const s = session("dev-3");
  presence.onLocalEvent({ type: "online", session: s, resumed: false, at: 1 });
  presence.onLocalEvent(offline(s, "moved"));
  assert.deepEqual(events("relay/device/dev-3/presence").length, 1);
  remote({
    deviceId: "dev-3",
    holder: holder("dev-3", "relay-c"),
    previous: undefined,
  });
  assert.deepEqual(
    events("relay/device/online").map((e) => e.relay_id),
    ["relay-a", "relay-c"],
  );
  assert.deepEqual(events("relay/device/offline"), []);
});

Deno.test("holder: other relays' devices are not published; the janitor clears a lost relay's", () => {
  for (const janitor of [true, false]) {
    const { presence, remote, events } = setup("holder", janitor);
    const b = holder("dev-4", "relay-b");
    remote({ deviceId: "dev-4", holder: b, previous: undefined });
    assert.deepEqual(events("relay/device/online"), []);
    remote({
      deviceId: "dev-4",
      holder: undefined,
      previous: b,
      reason: "relay_lost",
    });
    assert.deepEqual(
      events("relay/device/offline").map((e) => [e.relay_id, e.reason]),
      janitor ? [["relay-b", "relay_lost"]] : [],
    );
    // A local device that moved to another relay: no offline either.
    const s = session("dev-5");
    presence.onLocalEvent({
      type: "online",
      session: s,
      resumed: false,
      at: 1,
    });
    remote({
      deviceId: "dev-5",
      holder: holder("dev-5", "relay-b"),
      previous: undefined,
    });
    presence.onLocalEvent(offline(s, "graceful"));
    assert.equal(
      events("relay/device/offline").filter((e) => e.device_id === "dev-5")
        .length,
      0,
    );
  }
});
