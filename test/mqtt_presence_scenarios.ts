// Presence scenarios run against every broker kind (the embedded aedes in
// mqtt_presence_test.ts, a real Mosquitto in mqtt_mosquitto_test.ts): one
// relay each, a subscriber on the presence topics, every payload checked
// against docs/schemas/.
import assert from "node:assert/strict";
import { startTestRelay, type TestRelay } from "./harness.ts";
import { assertAllPayloads } from "./mqtt_payload_schemas.ts";
import { MqttSubscriber } from "./mqtt_subscriber.ts";
import { rawDevice } from "./raw_device.ts";

export const ONLINE = "relay/device/online";
export const OFFLINE = "relay/device/offline";
export const presenceTopic = (id: string) => `relay/device/${id}/presence`;
export const statusTopic = (id: string) => `relay/relay/${id}/status`;
const ALL_PRESENCE = [ONLINE, OFFLINE, "relay/device/+/presence"];

export interface BrokerUnderTest {
  /** Config keys that point the relay at the broker. */
  config: Record<string, unknown>;
  /** Subscribers' URL; undefined: the relay's embedded broker. */
  url?: string;
}

interface PresenceEvent {
  device_id: string;
  connection_id: string;
  relay_id: string;
  relay_address: string;
  transport: string;
  resumed?: boolean;
  generation: number;
  reason?: string;
  state?: string;
  time: string;
}

/** A unique id, so scenarios sharing one broker never see each other's retained state. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A relay on `broker` with a subscriber on the presence topics; cleaned up after `body`. */
export async function withPresenceRelay(
  broker: BrokerUnderTest,
  config: Record<string, unknown>,
  body: (t: TestRelay, sub: MqttSubscriber, relayId: string) => Promise<void>,
  filters: string[] = ALL_PRESENCE,
): Promise<void> {
  const relayId = uniqueId("relay");
  const t = await startTestRelay({
    config: { "relay.id": relayId, ...broker.config, ...config },
  });
  let sub: MqttSubscriber | undefined;
  try {
    sub = await MqttSubscriber.connect(broker.url ?? t.mqttUrl, filters);
    await body(t, sub, relayId);
    assert.ok(assertAllPayloads(sub.messages) > 0, "payloads were checked");
  } finally {
    await sub?.close();
    await t.close();
  }
}

function cleared(sub: MqttSubscriber, deviceId: string, from = 0) {
  return sub.waitFor(
    (m) => m.topic === presenceTopic(deviceId) && m.text === "",
    `presence of ${deviceId} cleared`,
    { from },
  );
}

/** Online, retained presence, graceful offline, revoked, replaced; generations grow. */
export function lifecycleScenario(broker: BrokerUnderTest): Promise<void> {
  return withPresenceRelay(broker, {}, async (t, sub, relayId) => {
    const id = uniqueId("dev");
    const agent = await t.device(id);
    const online = await sub.waitForJson<PresenceEvent>(ONLINE, {
      device_id: id,
    });
    assert.equal(online.connection_id, agent.state.connectionId);
    assert.equal(online.relay_id, relayId);
    assert.equal(online.relay_address, t.relay.grpcAddress);
    assert.equal(online.transport, "h2");
    assert.equal(online.resumed, false);
    const presence = await sub.waitForJson<PresenceEvent>(presenceTopic(id), {
      state: "online",
    });
    assert.equal(presence.generation, online.generation);

    await agent.close();
    const offline = await sub.waitForJson<PresenceEvent>(OFFLINE, {
      device_id: id,
    });
    assert.equal(offline.reason, "graceful");
    assert.ok(offline.generation > online.generation, "generation grows");
    assert.ok(Date.parse(offline.time) >= Date.parse(online.time));
    await cleared(sub, id);

    // Revocation of the device credential ends its session.
    const revokedId = uniqueId("dev");
    const credential = t.registerDevice(revokedId);
    await t.device(revokedId, { token: credential });
    const revokedOnline = await sub.waitForJson<PresenceEvent>(ONLINE, {
      device_id: revokedId,
    });
    await t.controller().revokeToken({
      token: credential,
      targetType: "DEVICE",
    });
    const revoked = await sub.waitForJson<PresenceEvent>(OFFLINE, {
      device_id: revokedId,
    });
    assert.equal(revoked.reason, "revoked");
    assert.ok(revoked.generation > revokedOnline.generation);
    await cleared(sub, revokedId);

    // A second connection of the same device replaces the first.
    const replacedId = uniqueId("dev");
    const replacedCredential = t.registerDevice(replacedId);
    const first = await rawDevice(t, replacedId, replacedCredential);
    const second = await rawDevice(t, replacedId, replacedCredential);
    try {
      const old = await sub.waitForJson<PresenceEvent>(OFFLINE, {
        device_id: replacedId,
      });
      assert.equal(old.reason, "replaced");
      assert.equal(old.connection_id, first.connectionId);
      const newer = await sub.waitForJson<PresenceEvent>(ONLINE, {
        device_id: replacedId,
        connection_id: second.connectionId,
      });
      assert.ok(newer.generation > old.generation, "online after replaced");
      const firstOnline = await sub.waitForJson<PresenceEvent>(ONLINE, {
        device_id: replacedId,
        connection_id: first.connectionId,
      });
      assert.ok(old.generation > firstOnline.generation);
      // The retained presence ends on the new connection.
      await sub.waitForJson(presenceTopic(replacedId), {
        connection_id: second.connectionId,
      });
    } finally {
      first.drop();
      second.drop();
    }
  });
}

/** A silent device turns suspect, then goes offline with reason timeout. */
export function timeoutScenario(broker: BrokerUnderTest): Promise<void> {
  return withPresenceRelay(broker, {
    "relay.heartbeat_interval_seconds": 10,
    "relay.presence.suspect_after_seconds": 0.1,
    "relay.presence.offline_after_seconds": 0.3,
  }, async (t, sub) => {
    const id = uniqueId("silent");
    const device = await rawDevice(t, id, t.registerDevice(id));
    try {
      const online = await sub.waitForJson<PresenceEvent>(ONLINE, {
        device_id: id,
      });
      const suspect = await sub.waitForJson<PresenceEvent>(presenceTopic(id), {
        state: "suspect",
      });
      const offline = await sub.waitForJson<PresenceEvent>(OFFLINE, {
        device_id: id,
      });
      assert.equal(offline.reason, "timeout");
      assert.ok(online.generation < suspect.generation);
      assert.ok(suspect.generation < offline.generation);
      await cleared(sub, id);
    } finally {
      device.drop();
    }
  });
}

/** A dropped transport: presence "disconnected", then offline when the resume window expires. */
export function resumeWindowScenario(broker: BrokerUnderTest): Promise<void> {
  return withPresenceRelay(broker, {
    "relay.session.resume_window_seconds": 0.2,
  }, async (t, sub) => {
    const id = uniqueId("dropped");
    const device = await rawDevice(t, id, t.registerDevice(id));
    await sub.waitForJson(ONLINE, { device_id: id });
    device.drop();
    const disconnected = await sub.waitForJson<PresenceEvent>(
      presenceTopic(id),
      { state: "disconnected" },
    );
    const offline = await sub.waitForJson<PresenceEvent>(OFFLINE, {
      device_id: id,
    });
    assert.equal(offline.reason, "resume_window_expired");
    assert.ok(offline.generation > disconnected.generation);
    const waited = Date.parse(offline.time) - Date.parse(disconnected.time);
    assert.ok(waited >= 150, `offline ${waited} ms after the drop`);
  });
}

/**
 * Graceful shutdown: every device goes offline with reason relay_shutdown,
 * then the relay's own status turns offline/shutdown.
 */
export function shutdownScenario(broker: BrokerUnderTest): Promise<void> {
  return withPresenceRelay(
    broker,
    {},
    async (t, sub, relayId) => {
      const ids = [uniqueId("dev"), uniqueId("dev")];
      for (const id of ids) await t.device(id);
      await sub.waitForJson(statusTopic(relayId), { state: "online" });
      for (const id of ids) await sub.waitForJson(ONLINE, { device_id: id });
      await t.relay.shutdown();
      for (const id of ids) {
        const offline = await sub.waitForJson<PresenceEvent>(OFFLINE, {
          device_id: id,
        });
        assert.equal(offline.reason, "relay_shutdown");
        await cleared(sub, id);
      }
      const status = await sub.waitForJson<{ reason: string }>(
        statusTopic(relayId),
        { state: "offline" },
      );
      assert.equal(status.reason, "shutdown");
      // The relay's status went out after its devices' offline events.
      const last = sub.messages.findLast((m) => m.topic === OFFLINE)!;
      assert.ok(status.received.at >= last.at);
    },
    [...ALL_PRESENCE, "relay/relay/+/status"],
  );
}

/** Prints connect -> online-event latencies (min / median / max). */
export function reportLatency(
  broker: string,
  fromConnect: number[],
  fromEvent: number[],
): void {
  const stats = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const at = (q: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return `min ${sorted[0]!.toFixed(1)} / median ${at(0.5).toFixed(1)} / max ${
      sorted.at(-1)!.toFixed(1)
    } ms`;
  };
  console.log(
    `MQTT online-event latency (${broker}, ${fromConnect.length} devices, h2 + TLS):\n` +
      `  device connect start -> online event at subscriber: ${
        stats(fromConnect)
      }\n` +
      `  registration on the relay (event time) -> subscriber: ${
        stats(fromEvent)
      }`,
  );
}
