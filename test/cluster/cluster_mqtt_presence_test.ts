// MQTT presence across a relay cluster (issue 17): two relays on NATS (one
// nats-server process, relays in this process), each with its own embedded
// broker, observed by real MQTT subscribers. A device relay B holds is online
// on relay A's broker, with relay B named, and goes offline there when it
// leaves; a relay that stops saying it is alive takes its devices offline on
// A's broker after the TTL; a device that moves from B to A is never reported
// offline; a relay publishes its own devices once. Relays that share one
// Mosquitto publish each device once: only its holder does, and one relay
// clears the devices of a relay that died.
import assert from "node:assert/strict";
import { ClusterState } from "../../src/cluster/cluster_state.ts";
import { FleetDirectory } from "../../src/cluster/fleet_directory.ts";
import { startTestRelay, type TestRelay } from "../harness.ts";
import { assertAllPayloads } from "../mqtt_payload_schemas.ts";
import { MqttSubscriber } from "../mqtt_subscriber.ts";
import { rawDevice } from "../raw_device.ts";
import { startMosquitto } from "../mosquitto_fixture.ts";
import { MOSQUITTO, NATS_SERVER, SystemTools } from "../system_tools.ts";
import { NatsCluster } from "./nats_cluster.ts";

const tools = await SystemTools.check(NATS_SERVER, MOSQUITTO);
const natsTest = (name: string, fn: () => Promise<void>) =>
  tools.test({ name, fn, needs: [NATS_SERVER] });
/** relay.cluster.relay_ttl_seconds in these tests. */
const RELAY_TTL_SECONDS = 1.5;
const PROPAGATION_MS = 2000;
const TOPICS = [
  "relay/device/online",
  "relay/device/offline",
  "relay/device/+/presence",
];

interface Cluster {
  a: TestRelay;
  b: TestRelay;
  state: ClusterState;
  /** Subscribers on relay A's and relay B's embedded brokers. */
  onA: MqttSubscriber;
  onB: MqttSubscriber;
}

async function withCluster(
  body: (cluster: Cluster) => Promise<void>,
  config: Record<string, unknown> = {},
): Promise<void> {
  const nats = await NatsCluster.start(tools.path("nats-server"), 1);
  const relays: TestRelay[] = [];
  const subscribers: MqttSubscriber[] = [];
  let state: ClusterState | undefined;
  try {
    for (const index of [0, 1]) {
      relays.push(
        await startTestRelay({
          config: {
            "relay.id": `relay-${index}`,
            "relay.cluster.nats_url": nats.urls[0],
            "relay.cluster.replicas": 1,
            "relay.cluster.relay_ttl_seconds": RELAY_TTL_SECONDS,
            ...config,
          },
        }),
      );
    }
    state = await ClusterState.open({ servers: nats.urls, replicas: 1 });
    for (const relay of relays) {
      subscribers.push(await MqttSubscriber.connect(relay.mqttUrl, TOPICS));
    }
    await body({
      a: relays[0]!,
      b: relays[1]!,
      state,
      onA: subscribers[0]!,
      onB: subscribers[1]!,
    });
    for (const subscriber of subscribers) {
      assert.ok(assertAllPayloads(subscriber.messages) > 0);
    }
  } finally {
    for (const subscriber of subscribers) await subscriber.close();
    await state?.close();
    for (const relay of relays) await relay.close();
    await nats.close();
  }
}

const presenceTopic = (deviceId: string) => `relay/device/${deviceId}/presence`;

function eventsFor(
  subscriber: MqttSubscriber,
  topic: string,
  deviceId: string,
): Record<string, unknown>[] {
  return subscriber.json(topic).filter((event) =>
    event?.device_id === deviceId
  ) as Record<string, unknown>[];
}

natsTest(
  "cluster MQTT: a device relay B holds is online on relay A's broker, naming relay B, and offline when it leaves",
  async () => {
    await withCluster(async ({ a, b, state, onA }) => {
      const credential = await state.registerDevice("far-dev", "default");
      const agent = await b.device("far-dev", { token: credential });
      const online = await onA.waitForJson("relay/device/online", {
        device_id: "far-dev",
        relay_id: "relay-1",
        relay_address: b.relay.grpcAddress,
      }, { timeoutMs: PROPAGATION_MS });
      assert.equal(online.resumed, false);
      const presence = await onA.waitForJson(presenceTopic("far-dev"), {
        relay_id: "relay-1",
        state: "online",
      }, { timeoutMs: PROPAGATION_MS });
      assert.equal(presence.connection_id, online.connection_id);

      // Relay A's own device: published once on its broker, by relay A.
      const own = await state.registerDevice("near-dev", "default");
      await a.device("near-dev", { token: own });
      await onA.waitForJson("relay/device/online", {
        device_id: "near-dev",
        relay_id: "relay-0",
      }, { timeoutMs: PROPAGATION_MS });

      await agent.close();
      const offline = await onA.waitForJson("relay/device/offline", {
        device_id: "far-dev",
        relay_id: "relay-1",
      }, { timeoutMs: PROPAGATION_MS });
      assert.equal(offline.reason, "remote");
      await onA.waitFor(
        (m) => m.topic === presenceTopic("far-dev") && m.text === "",
        "far-dev's presence cleared on relay A's broker",
        { timeoutMs: PROPAGATION_MS },
      );
      // Let relay B's entry for near-dev (its own) come and go: still once.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(eventsFor(onA, "relay/device/online", "near-dev").length, 1);
      assert.equal(eventsFor(onA, "relay/device/online", "far-dev").length, 1);
    });
  },
);

natsTest(
  "cluster MQTT: a relay that stops saying it is alive takes its devices offline on the other relay's broker after the TTL",
  async () => {
    await withCluster(async ({ state, onA }) => {
      // A relay that dies without a word: it wrote its device, then went quiet.
      const ghost = await FleetDirectory.open(state.connection, {
        relayId: "relay-ghost",
        replicas: 1,
        relayTtlMs: RELAY_TTL_SECONDS * 1000,
      });
      await ghost.deviceChanged("ghost-dev", () => ({
        device_id: "ghost-dev",
        connection_id: "conn_ghost",
        relay_address: "ghost:50051",
        connected_at: Date.now(),
        metadata: {},
        last_seen: Date.now(),
        state: "ONLINE",
        transport: "quic",
        project: "default",
        grpc_target: false,
      }), () => 7);
      const online = await onA.waitForJson("relay/device/online", {
        device_id: "ghost-dev",
        relay_id: "relay-ghost",
        relay_address: "ghost:50051",
        session_generation: 7,
      }, { timeoutMs: PROPAGATION_MS });
      await ghost.close(); // the heartbeat stops; its entry stays
      const stopped = performance.now();
      const offline = await onA.waitForJson("relay/device/offline", {
        device_id: "ghost-dev",
        reason: "relay_lost",
      }, { timeoutMs: RELAY_TTL_SECONDS * 1000 + PROPAGATION_MS });
      const after = performance.now() - stopped;
      assert.ok(
        after >= RELAY_TTL_SECONDS * 1000 / 3,
        `offline after ${
          after.toFixed(0)
        } ms, before the relay could be missed`,
      );
      assert.equal(offline.connection_id, online.connection_id);
      assert.ok((offline.generation as number) > (online.generation as number));
      await onA.waitFor(
        (m) => m.topic === presenceTopic("ghost-dev") && m.text === "",
        "ghost-dev's presence cleared",
      );
    });
  },
);

natsTest(
  "cluster MQTT: a device that moves from relay B to relay A is never offline on either broker",
  async () => {
    await withCluster(async ({ a, b, state, onA, onB }) => {
      const credential = await state.registerDevice("mover", "default");
      const first = await rawDevice(b, "mover", credential);
      await onA.waitForJson(presenceTopic("mover"), {
        relay_id: "relay-1",
        state: "online",
      }, { timeoutMs: PROPAGATION_MS });
      // Its link to relay B drops (B keeps the session for a resume) and it
      // registers with relay A.
      first.drop();
      await onA.waitForJson(presenceTopic("mover"), {
        relay_id: "relay-1",
        state: "disconnected",
      }, { timeoutMs: PROPAGATION_MS });
      await rawDevice(a, "mover", credential);
      await onA.waitForJson("relay/device/online", {
        device_id: "mover",
        relay_id: "relay-0",
      }, { timeoutMs: PROPAGATION_MS });
      // Relay B's session expires (resume window): B names the new holder.
      const moved = await onB.waitForJson("relay/device/online", {
        device_id: "mover",
        relay_id: "relay-0",
        relay_address: a.relay.grpcAddress,
      }, { timeoutMs: 1000 + PROPAGATION_MS });
      assert.equal(moved.resumed, false);
      await onB.waitForJson(presenceTopic("mover"), {
        relay_id: "relay-0",
        state: "online",
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const subscriber of [onA, onB]) {
        assert.deepEqual(
          eventsFor(subscriber, "relay/device/offline", "mover"),
          [],
        );
        const last = subscriber.messages.filter((m) =>
          m.topic === presenceTopic("mover")
        ).at(-1);
        assert.equal(JSON.parse(last?.text || "{}").relay_id, "relay-0");
      }
    }, { "relay.session.resume_window_seconds": 1 });
  },
);

tools.test("cluster MQTT: relays sharing one broker publish each device once (its holder); one relay clears a lost relay's devices", async () => {
  const mosquitto = await startMosquitto(tools.path("mosquitto"));
  const sub = await MqttSubscriber.connect(mosquitto.url, TOPICS);
  try {
    // relay.cluster.mqtt_presence auto: holder, on an external broker.
    await withCluster(async ({ b, state }) => {
      const credential = await state.registerDevice("shared-dev", "default");
      await b.device("shared-dev", { token: credential });
      const ghost = await FleetDirectory.open(state.connection, {
        relayId: "relay-ghost",
        replicas: 1,
        relayTtlMs: RELAY_TTL_SECONDS * 1000,
      });
      await ghost.deviceChanged("ghost-2", () => ({
        device_id: "ghost-2",
        connection_id: "conn_ghost_2",
        relay_address: "ghost:50051",
        connected_at: Date.now(),
        last_seen: Date.now(),
        state: "ONLINE",
        transport: "h2",
        project: "default",
      }), () => 1);
      await sub.waitForJson("relay/device/online", {
        device_id: "shared-dev",
        relay_id: "relay-1",
      });
      await ghost.close();
      await sub.waitForJson("relay/device/offline", {
        device_id: "ghost-2",
        reason: "relay_lost",
      }, { timeoutMs: RELAY_TTL_SECONDS * 1000 + PROPAGATION_MS });
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(
        eventsFor(sub, "relay/device/online", "shared-dev").length,
        1,
      );
      // The ghost relay published nothing itself; only its clearing came.
      assert.equal(eventsFor(sub, "relay/device/online", "ghost-2").length, 0);
      assert.equal(eventsFor(sub, "relay/device/offline", "ghost-2").length, 1);
      assert.ok(assertAllPayloads(sub.messages) > 0);
    }, { "relay.mqtt.broker_address": mosquitto.url });
  } finally {
    await sub.close();
    await mosquitto.close();
  }
});
