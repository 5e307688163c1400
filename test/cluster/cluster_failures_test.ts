// A relay or a NATS node dies (issue 17), with real processes: three
// nats-server nodes and three relays as OS processes (bench/fleet/
// relay_cluster.ts); devices and controllers in this process.
// - SIGKILL of a relay under steady controller traffic: the devices it held
//   (HTTP/2 and QUIC, each knowing all three relays) are online again through
//   the others within a few seconds; no survivor lists a device on the dead
//   relay after relay_ttl_seconds; a controller on a survivor that retries
//   with the same sequence number gets every answer, each request run once.
// - SIGKILL of one NATS node of three under traffic that crosses NATS (a
//   controller on relay A, devices on relay B): no request fails; what a
//   controller may see is added latency while a relay reconnects (bounded
//   here by NATS_LOSS_LATENCY_BOUND_MS). Every relay is given all three NATS
//   URLs, so the one on the dead node reconnects to another.
import assert from "node:assert/strict";
import { controllerConnector } from "../../mod.ts";
import { ControllerClient } from "../../src/sdk/controller_client.ts";
import { CountingDevice } from "../../bench/fleet/counting_device.ts";
import { RelayCluster } from "../../bench/fleet/relay_cluster.ts";
import { RetryingCaller } from "../../bench/fleet/retrying_caller.ts";
import { SteadyTraffic } from "../../bench/fleet/steady_traffic.ts";
import { eventually, TRANSPORTS } from "../harness.ts";
import { NATS_SERVER, SystemTools } from "../system_tools.ts";

const tools = await SystemTools.check(NATS_SERVER);

const RELAY_TTL_SECONDS = 1.5;
/**
 * Relay heartbeats to devices, slow enough (silence heard after 2 x 10 + 2 s)
 * that a QUIC device must notice a dead relay by the QUIC idle timeout a
 * device that knows several relays uses (6 s, src/compose/connectors.ts).
 */
const HEARTBEAT_SECONDS = 10;
/** A QUIC device gives up on a dead relay's handshake after this. */
const QUIC_CONNECT_TIMEOUT_MS = 1000;
/** Back online elsewhere: h2 sees the reset at once, QUIC after its idle timeout + handshake (~7-9 s). */
const BACK_ONLINE_BOUND_MS = { h2: 3000, quic: 13_000 };
/** The TTL, plus a heartbeat period of slack for polling and clocks. */
const FORGOTTEN_BOUND_MS = RELAY_TTL_SECONDS * 1000 + 1000;
const TRAFFIC_PAUSE_MS = 10;
/** A round trip while a relay reconnects to NATS (measured: up to ~0.7 s). */
const NATS_LOSS_LATENCY_BOUND_MS = 3000;
/** relay_ttl_seconds while a NATS node dies: above JetStream's election time. */
const NATS_LOSS_RELAY_TTL_SECONDS = 10;

const CLUSTER_CONFIG = {
  "relay.heartbeat_interval_seconds": HEARTBEAT_SECONDS,
  "relay.cluster.relay_ttl_seconds": RELAY_TTL_SECONDS,
  "relay.shutdown_grace_seconds": 1,
  "relay.mqtt.enabled": false,
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Where relay `index`'s ListOnlineDevices says each device is held. */
async function holders(
  client: ControllerClient,
): Promise<Map<string, string>> {
  const devices = await client.listDevices();
  return new Map(
    devices.map((device) => [device.device_id, device.relay_address]),
  );
}

tools.test("cluster failures: SIGKILL of a relay under steady traffic: its h2 and QUIC devices are back through the others within seconds, the survivors forget it after the TTL, and a retrying controller gets every answer, each request run once", async () => {
  // Two devices per transport start on each relay; all know all three.
  const ids = TRANSPORTS.flatMap((transport) =>
    [0, 1, 2, 3, 4, 5].map((n) => `kill-${transport}-${n}`)
  );
  const cluster = await RelayCluster.start(tools.path("nats-server"), {
    deviceIds: ids,
    config: CLUSTER_CONFIG,
  });
  const devices: CountingDevice[] = [];
  const clients: ControllerClient[] = [];
  const callers = new Map<string, RetryingCaller>();
  try {
    for (const [n, id] of ids.entries()) {
      const transport = id.includes("quic") ? "quic" : "h2";
      devices.push(
        await CountingDevice.start({
          deviceId: id,
          token: cluster.credentials[id]!,
          relays: {
            ...cluster.clientOptions(transport, cluster.ordered(n % 3)),
            quicConnectTimeoutMs: QUIC_CONNECT_TIMEOUT_MS,
          },
        }),
      );
    }
    const client = (index: number) => {
      const made = new ControllerClient({
        connector: controllerConnector(cluster.clientOptions("h2", [index])),
        token: cluster.adminToken,
        e2e: false,
      });
      clients.push(made);
      return made;
    };
    const [survivorA, victim, survivorB] = [client(0), 1, client(2)];
    await eventually(
      async () => (await holders(survivorA)).size === ids.length,
      5000,
      "relay-0 to list every device",
    );
    const deadAddress = cluster.relays[victim]!.endpoints.grpcAddress;
    const held = [...await holders(survivorA)]
      .filter(([, address]) => address === deadAddress)
      .map(([id]) => id);
    assert.ok(held.some((id) => id.includes("-h2-")), "victim holds h2");
    assert.ok(held.some((id) => id.includes("-quic-")), "victim holds QUIC");

    // A controller on relay-0 calls every device, retrying with the same
    // sequence number (a request in flight on the victim dies with it).
    for (const id of ids) {
      callers.set(
        id,
        new RetryingCaller({
          clients: [survivorA],
          deviceId: id,
          attemptTimeoutMs: 2000,
          retryForMs: 20_000,
          retryPauseMs: 100,
        }),
      );
    }
    const traffic = new SteadyTraffic({ callers, pauseMs: TRAFFIC_PAUSE_MS });
    await sleep(1000);

    const killedAt = performance.now();
    await cluster.relays[victim]!.kill();
    // The survivors list no device on the dead relay (after the TTL at most).
    let forgottenMs = NaN;
    await eventually(
      async () => {
        const lists = [await holders(survivorA), await holders(survivorB)];
        const onDead = lists.some((list) =>
          [...list.values()].includes(deadAddress)
        );
        if (!onDead) forgottenMs = performance.now() - killedAt;
        return !onDead;
      },
      FORGOTTEN_BOUND_MS + 2000,
      "the survivors to forget the dead relay's devices",
    );
    // Its devices online again, listed on a survivor by both survivors.
    await eventually(
      async () => {
        const lists = [await holders(survivorA), await holders(survivorB)];
        return held.every((id) =>
          lists.every((list) => {
            const address = list.get(id);
            return address !== undefined && address !== deadAddress;
          })
        );
      },
      15_000,
      "the victim's devices to be listed on the survivors",
    );
    await sleep(1000); // traffic after the recovery too
    await traffic.stop();

    const backMs = held.map((id) => {
      const device = devices.find((device) => device.deviceId === id)!;
      return { id, ms: device.connectedAfter(killedAt) - killedAt };
    });
    const retries = [...callers.values()].reduce((n, c) => n + c.retries, 0);
    console.log(
      `relay-1 SIGKILLed: its devices back after ${
        backMs.map(({ id, ms }) => `${id} ${ms.toFixed(0)} ms`).join(", ")
      }; survivors forgot it after ${forgottenMs.toFixed(0)} ms (TTL ${
        RELAY_TTL_SECONDS * 1000
      } ms); ${traffic.sent} requests, ${traffic.failures.length} failed, ${retries} retries, worst round trip ${
        traffic.worstLatencyMs.toFixed(0)
      } ms`,
    );

    for (const { id, ms } of backMs) {
      const bound = BACK_ONLINE_BOUND_MS[id.includes("quic") ? "quic" : "h2"];
      assert.ok(ms < bound, `${id} back after ${ms} ms (bound ${bound})`);
    }
    assert.ok(
      forgottenMs <= FORGOTTEN_BOUND_MS,
      `forgotten after ${forgottenMs} ms`,
    );
    assert.deepEqual(traffic.failures, []);
    assert.ok(retries > 0, "some requests needed a retry");
    const runs = devices.reduce((n, device) => n + device.runs.size, 0);
    assert.equal(runs, traffic.sent, "every request reached its device");
    assert.deepEqual(devices.flatMap((device) => device.duplicates()), []);
  } finally {
    for (const caller of callers.values()) await caller.close();
    for (const made of clients) await made.close();
    for (const device of devices) await device.close();
    await cluster.close();
  }
});

// The node of the controller's relay (requests and replies on it are lost),
// then that of the device's relay (the same, seen from the other side).
for (const side of ["controller", "device"] as const) {
  tools.test(`cluster failures: SIGKILL of one NATS node of three under traffic that crosses NATS: no controller request fails; the relay on that node reconnects to another [the ${side}'s relay's node]`, async () => {
    const ids = TRANSPORTS.flatMap((transport) =>
      [0, 1].map((n) => `nats-${transport}-${n}`)
    );
    const cluster = await RelayCluster.start(tools.path("nats-server"), {
      relays: 2,
      deviceIds: ids,
      config: {
        ...CLUSTER_CONFIG,
        // Heartbeats stall while JetStream elects a new leader for the
        // relays' bucket (5 s when the killed node led it): with a TTL
        // below that a live relay looks dead and its devices unreachable.
        "relay.cluster.relay_ttl_seconds": NATS_LOSS_RELAY_TTL_SECONDS,
      },
    });
    const devices: CountingDevice[] = [];
    const callers = new Map<string, RetryingCaller>();
    const controller = new ControllerClient({
      connector: controllerConnector(cluster.clientOptions("h2", [0])),
      token: cluster.adminToken,
      e2e: false,
    });
    try {
      // Devices on relay-1 only, called from relay-0: every request crosses NATS.
      for (const id of ids) {
        devices.push(
          await CountingDevice.start({
            deviceId: id,
            token: cluster.credentials[id]!,
            relays: cluster.clientOptions(
              id.includes("quic") ? "quic" : "h2",
              [1],
            ),
          }),
        );
      }
      await eventually(
        async () => (await holders(controller)).size === ids.length,
        5000,
        "relay-0 to list relay-1's devices",
      );
      // No retries: a failed request is a failure the controller sees.
      for (const id of ids) {
        callers.set(
          id,
          new RetryingCaller({
            clients: [controller],
            deviceId: id,
            attemptTimeoutMs: 10_000,
            retryForMs: 0,
            retryPauseMs: 0,
          }),
        );
      }
      const traffic = new SteadyTraffic({ callers, pauseMs: TRAFFIC_PAUSE_MS });
      await sleep(1000);

      const nodeOfA = await cluster.nats.nodeServing("relay-0");
      const nodeOfB = await cluster.nats.nodeServing("relay-1");
      assert.ok(nodeOfA !== undefined && nodeOfB !== undefined);
      const [victim, relayOnIt] = side === "controller"
        ? [nodeOfA, "relay-0"]
        : [nodeOfB, "relay-1"];
      const killedAt = performance.now();
      await cluster.nats.kill(victim);
      let reconnectedMs = NaN;
      await eventually(
        async () => {
          const node = await cluster.nats.nodeServing(relayOnIt);
          if (node !== undefined) reconnectedMs = performance.now() - killedAt;
          return node !== undefined;
        },
        10_000,
        `${relayOnIt} to reconnect to another NATS node`,
      );
      await sleep(3000); // traffic after the failover too
      await traffic.stop();
      // Answers that came once the relay was on its new node.
      const answeredAfter = [...traffic.answeredAt.values()].flat()
        .filter((at) => at > killedAt + reconnectedMs).length;

      console.log(
        `NATS node n${victim} SIGKILLed (relay-0 was on n${nodeOfA}, relay-1 on n${nodeOfB}): ${relayOnIt} on another node after ${
          reconnectedMs.toFixed(0)
        } ms; ${traffic.sent} requests, ${traffic.failures.length} failed, worst round trip ${
          traffic.worstLatencyMs.toFixed(0)
        } ms, longest gap in a device's answers ${
          traffic.longestGap().ms.toFixed(0)
        } ms`,
      );
      assert.deepEqual(traffic.failures, []);
      assert.ok(traffic.worstLatencyMs < NATS_LOSS_LATENCY_BOUND_MS);
      assert.ok(answeredAfter > 0);
      const runs = devices.reduce((n, device) => n + device.runs.size, 0);
      assert.equal(runs, traffic.sent);
      assert.deepEqual(devices.flatMap((device) => device.duplicates()), []);
    } finally {
      for (const caller of callers.values()) await caller.close();
      await controller.close();
      for (const device of devices) await device.close();
      await cluster.close();
    }
  });
}
