// MQTT presence against a real external broker: Mosquitto, started by each
// test on a free loopback port with a generated config file and killed at
// the end. Covers the relay's last will (relay process killed with
// SIGKILL), a broker restart mid-run (traffic never stalls, events resume,
// the retained snapshot comes back), the bounded queue, and mqtts:// with a
// CA file and username/password.
import assert from "node:assert/strict";
import { DeviceAgent, deviceConnector, echoHandler } from "../mod.ts";
import type { RelayMqtt } from "../src/mqtt/relay_mqtt.ts";
import { createDevCa, issueServerCertificate } from "../src/tls/dev_pki.ts";
import { encode, eventually, startTestRelay } from "./harness.ts";
import { assertAllPayloads } from "./mqtt_payload_schemas.ts";
import {
  lifecycleScenario,
  OFFLINE,
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
import { MOSQUITTO, SystemTools } from "./system_tools.ts";
import { RelayProcess } from "../bench/fleet/relay_process.ts";

const tools = await SystemTools.check(MOSQUITTO);

interface MosquittoOptions {
  tls?: { caPem: string; certPem: string; keyPem: string };
  login?: { username: string; password: string };
}

/** A Mosquitto process; restart() brings it back on the same port. */
class Mosquitto {
  readonly port: number;
  readonly #dir: string;
  #process: Deno.ChildProcess | undefined;

  private constructor(dir: string, port: number) {
    this.#dir = dir;
    this.port = port;
  }

  static async start(options: MosquittoOptions = {}): Promise<Mosquitto> {
    const dir = await Deno.makeTempDir({ prefix: "mosquitto-relay-test-" });
    // Mosquitto needs a concrete port: take a free one from the kernel.
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = probe.addr.port;
    probe.close();
    const lines = [
      `listener ${port} 127.0.0.1`,
      "persistence false",
      "log_dest none",
      // As root Mosquitto would switch to its own user, which cannot read the
      // test's private temporary directory.
      ...(Deno.uid() === 0 ? ["user root"] : []),
    ];
    if (options.tls) {
      for (const [name, pem] of Object.entries(options.tls)) {
        await Deno.writeTextFile(`${dir}/${name}.pem`, pem);
      }
      lines.push(
        `cafile ${dir}/caPem.pem`,
        `certfile ${dir}/certPem.pem`,
        `keyfile ${dir}/keyPem.pem`,
      );
    }
    if (options.login) {
      const status = await new Deno.Command(tools.path("mosquitto_passwd"), {
        args: [
          "-b",
          "-c",
          `${dir}/passwords`,
          options.login.username,
          options.login.password,
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      assert.ok(status.success, "mosquitto_passwd failed");
      lines.push("allow_anonymous false", `password_file ${dir}/passwords`);
    } else lines.push("allow_anonymous true");
    await Deno.writeTextFile(`${dir}/mosquitto.conf`, lines.join("\n") + "\n");
    const broker = new Mosquitto(dir, port);
    await broker.restart();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    assert.equal(this.#process, undefined, "mosquitto is running");
    const deadline = Date.now() + 5000;
    for (;;) {
      const process = new Deno.Command(tools.path("mosquitto"), {
        args: ["-c", `${this.#dir}/mosquitto.conf`],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      if (await listening(this.port, process)) {
        this.#process = process;
        return;
      }
      // It exited (the port still held by the previous one): try again.
      if (Date.now() > deadline) throw new Error("mosquitto did not start");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    const process = this.#process;
    this.#process = undefined;
    if (process === undefined) return;
    process.kill("SIGKILL");
    await process.status;
  }

  async close(): Promise<void> {
    await this.stop();
    await Deno.remove(this.#dir, { recursive: true });
  }
}

/** Waits until the port accepts connections; false when the process exited first. */
async function listening(
  port: number,
  process: Deno.ChildProcess,
): Promise<boolean> {
  let exited = false;
  process.status.then(() => exited = true);
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (exited) return false;
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return true;
    } catch (_refused) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  process.kill("SIGKILL");
  await process.status;
  return false;
}

async function withMosquitto(
  body: (mosquitto: Mosquitto) => Promise<void>,
  options: MosquittoOptions = {},
): Promise<void> {
  const mosquitto = await Mosquitto.start(options);
  try {
    await body(mosquitto);
  } finally {
    await mosquitto.close();
  }
}

const FAST_RECONNECT = {
  "relay.mqtt.reconnect_min_seconds": 0.05,
  "relay.mqtt.reconnect_max_seconds": 0.2,
};

function external(mosquitto: Mosquitto) {
  return {
    config: { "relay.mqtt.broker_address": mosquitto.url, ...FAST_RECONNECT },
    url: mosquitto.url,
  };
}

tools.test("mosquitto: online, graceful, revoked and replaced events with growing generations", () =>
  withMosquitto((m) => lifecycleScenario(external(m))));

tools.test("mosquitto: a silent device goes suspect, then offline (timeout)", () =>
  withMosquitto((m) => timeoutScenario(external(m))));

tools.test("mosquitto: a dropped device goes offline when its resume window expires", () =>
  withMosquitto((m) => resumeWindowScenario(external(m))));

tools.test("mosquitto: shutdown sends devices offline (relay_shutdown), then the relay", () =>
  withMosquitto((m) => shutdownScenario(external(m))));

tools.test("mosquitto: latency from device connect to the online event at a subscriber", () =>
  withMosquitto((m) =>
    withPresenceRelay(external(m), {}, async (t, sub) => {
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
      reportLatency("Mosquitto", fromConnect, fromEvent);
    }, [ONLINE])
  ));

tools.test("mosquitto: a relay killed with SIGKILL is announced by its last will; its restart clears the stale presence", async () => {
  await withMosquitto(async (mosquitto) => {
    const relayId = uniqueId("relay");
    const sub = await MqttSubscriber.connect(mosquitto.url, [
      statusTopic(relayId),
      "relay/device/+/presence",
    ]);
    const deviceId = uniqueId("dev");
    const relay = await RelayProcess.start({
      deviceIds: [deviceId],
      config: {
        "relay.id": relayId,
        "relay.shutdown_grace_seconds": 1,
        "relay.mqtt.broker_address": mosquitto.url,
        "relay.mqtt.reconnect_min_seconds": 0.05,
        "relay.mqtt.reconnect_max_seconds": 0.2,
      },
    });
    let agent: DeviceAgent | undefined;
    try {
      await sub.waitForJson(statusTopic(relayId), { state: "online" });
      agent = new DeviceAgent({
        connector: deviceConnector({
          address: relay.endpoints.grpcAddress,
          caPem: relay.endpoints.caPem,
          transport: "h2",
        }),
        deviceId,
        token: relay.credentials[deviceId]!,
        backoff: { initialMs: 20, maxMs: 200 },
      });
      agent.handle("*", echoHandler);
      const connected = agent.waitFor("connected");
      agent.start();
      await connected;
      await sub.waitForJson(presenceTopic(deviceId), { state: "online" });

      const killedAt = Date.now();
      await relay.kill();
      const will = await sub.waitForJson<{ reason: string }>(
        statusTopic(relayId),
        { state: "offline" },
      );
      assert.equal(will.reason, "crashed");
      console.log(
        `last will seen ${Date.now() - killedAt} ms after SIGKILL of the relay`,
      );
      // The crashed relay could not clear its device: consumers read the
      // relay's status (offline) together with the retained presence.
      await agent.close();
      agent = undefined;

      // The same relay, restarted, clears what its previous run left behind.
      const from = sub.messages.length;
      await relay.restart();
      await sub.waitForJson(statusTopic(relayId), { state: "online" }, {
        from,
      });
      await sub.waitFor(
        (m) => m.topic === presenceTopic(deviceId) && m.text === "",
        "stale retained presence cleared",
        { from },
      );
      await relay.stop();
      const stopped = await sub.waitForJson<{ reason: string }>(
        statusTopic(relayId),
        { state: "offline" },
        { from },
      );
      assert.equal(stopped.reason, "shutdown");
      assertAllPayloads(sub.messages);
    } finally {
      await agent?.close();
      await relay.close();
      await sub.close();
    }
  });
});

tools.test("mosquitto: a broker restart never stalls requests; events resume and the snapshot is re-published", async () => {
  await withMosquitto(async (mosquitto) => {
    // The relay reaches Mosquitto through a gate the test opens only once the
    // subscriber is back, so it sees every event queued during the outage.
    const gate = Gate.start(mosquitto.port);
    const relayId = uniqueId("relay");
    const t = await startTestRelay({
      config: {
        "relay.id": relayId,
        "relay.mqtt.broker_address": `mqtt://127.0.0.1:${gate.port}`,
        ...FAST_RECONNECT,
      },
    });
    const marker = `test/marker/${relayId}`;
    const sub = await MqttSubscriber.connect(mosquitto.url, [
      ONLINE,
      OFFLINE,
      "relay/device/+/presence",
      statusTopic(relayId),
      marker,
    ]);
    const traffic = { stop: false, answered: 0, failed: 0, slowest: 0 };
    let flowing: Promise<void> | undefined;
    try {
      const staying = uniqueId("stays");
      const leaving = uniqueId("leaves");
      await t.device(staying);
      const leavingAgent = await t.device(leaving);
      await sub.waitForJson(presenceTopic(leaving), { state: "online" });
      await sub.waitForJson(presenceTopic(staying), { state: "online" });

      // Requests flow the whole time (paced below the per-device rate
      // limit); failures and the slowest answer are recorded.
      const controller = t.controller(undefined, { e2e: false });
      flowing = (async () => {
        while (!traffic.stop) {
          const started = performance.now();
          try {
            await controller.call(staying, "echo", encode("ping"));
            traffic.answered++;
          } catch (_error) {
            traffic.failed++;
          }
          traffic.slowest = Math.max(
            traffic.slowest,
            performance.now() - started,
          );
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();

      gate.open = false;
      await mosquitto.stop();
      await eventually(
        () => !health(t).connected,
        3000,
        "the relay noticing the broker is gone",
      );
      const answeredBefore = traffic.answered;
      // Presence changes while the broker is down are queued.
      const arriving = uniqueId("arrives");
      await t.device(arriving);
      await leavingAgent.close();
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok(
        traffic.answered > answeredBefore,
        "requests kept succeeding while the broker was down",
      );
      const base = `http://127.0.0.1:${t.relay.healthPort}`;
      const down = await (await fetch(`${base}/health`)).json();
      assert.equal(down.components.mqtt.status, "degraded");
      assert.match(down.components.mqtt.message, /disconnected/);
      assert.ok(down.metrics.mqtt.queued >= 3, "changes are queued");
      assert.match(
        await (await fetch(`${base}/metrics`)).text(),
        /^relay_mqtt_connected 0$/m,
      );

      // The restarted broker has no retained state (persistence off): the
      // relay re-publishes its status and every current device's presence.
      await mosquitto.restart();
      await eventually(
        async () => {
          if (!sub.connected) return false;
          await sub.publish(marker, "back");
          return sub.messages.some((m) => m.topic === marker);
        },
        5000,
        "the subscriber back on the restarted broker",
      );
      const from = sub.messages.length;
      gate.open = true;
      await sub.waitForJson(statusTopic(relayId), { state: "online" }, {
        from,
      });
      await sub.waitForJson(ONLINE, { device_id: arriving }, { from });
      const offline = await sub.waitForJson<{ reason: string }>(OFFLINE, {
        device_id: leaving,
      }, { from });
      assert.equal(offline.reason, "graceful");
      const late = await MqttSubscriber.connect(mosquitto.url, [
        "relay/device/+/presence",
      ]);
      try {
        for (const id of [staying, arriving]) {
          const presence = await late.waitForJson(presenceTopic(id), {
            relay_id: relayId,
          });
          assert.equal(presence.received.retain, true);
        }
        assert.ok(
          !late.messages.some((m) => m.topic === presenceTopic(leaving)),
          "no retained presence for the device that left during the outage",
        );
      } finally {
        await late.close();
      }
      traffic.stop = true;
      await flowing;
      console.log(
        `${traffic.answered} requests during the run, ${traffic.failed} failed, slowest ${
          traffic.slowest.toFixed(1)
        } ms (broker down for part of it)`,
      );
      assert.equal(traffic.failed, 0);
      assert.ok(traffic.slowest < 1000, `a request took ${traffic.slowest} ms`);
      assert.equal(health(t).connected, true);
      assertAllPayloads(sub.messages);
    } finally {
      traffic.stop = true;
      await flowing;
      await sub.close();
      await t.close();
      await gate.close();
    }
  });
});

/**
 * A TCP forwarder to the broker that refuses connections while closed (it
 * accepts and ends them at once).
 */
class Gate {
  open = true;
  readonly port: number;
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #accepting: Promise<void>;

  private constructor(target: number) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#accepting = (async () => {
      for await (const conn of listener) this.#forward(conn, target);
    })().catch(() => {
      // The listener was closed.
    });
  }

  static start(target: number): Gate {
    return new Gate(target);
  }

  async #forward(conn: Deno.Conn, target: number): Promise<void> {
    if (!this.open) return closeQuietly(conn);
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
    } catch (_refused) {
      return closeQuietly(conn);
    }
    this.#conns.add(conn).add(upstream);
    await Promise.race([
      conn.readable.pipeTo(upstream.writable).catch(() => {}),
      upstream.readable.pipeTo(conn.writable).catch(() => {}),
    ]);
    for (const end of [conn, upstream]) {
      this.#conns.delete(end);
      closeQuietly(end);
    }
  }

  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#conns) closeQuietly(conn);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (error) {
    // Already closed by its streams.
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

tools.test("mosquitto: while the broker is down the queue stays bounded and drops are counted", async () => {
  await withMosquitto(async (mosquitto) => {
    const t = await startTestRelay({
      config: {
        "relay.mqtt.broker_address": mosquitto.url,
        "relay.mqtt.max_queue": 5,
        ...FAST_RECONNECT,
      },
    });
    try {
      await eventually(() => health(t).connected, 3000, "MQTT connected");
      await mosquitto.stop();
      await eventually(() => !health(t).connected, 3000, "MQTT down");
      // Each device connect and close makes two events and two presence
      // updates (the presence of one device is coalesced in the queue).
      for (let i = 0; i < 4; i++) {
        await (await t.device(uniqueId("churn"))).close();
      }
      const status = health(t);
      assert.ok(status.queued <= 5, `queued ${status.queued}`);
      assert.ok(status.dropped > 0, "oldest publications dropped");
      const metrics = await (await fetch(
        `http://127.0.0.1:${t.relay.healthPort}/metrics`,
      )).text();
      const dropped = Number(
        /^relay_mqtt_dropped_total (\d+)$/m.exec(metrics)?.[1],
      );
      assert.equal(dropped, status.dropped);
      assert.match(
        metrics,
        new RegExp(`^relay_mqtt_queue ${status.queued}$`, "m"),
      );
    } finally {
      await t.close();
    }
  });
});

tools.test("mosquitto: mqtts:// with a CA file and username/password", async () => {
  const ca = await createDevCa();
  const server = await issueServerCertificate(ca, {
    hosts: ["localhost", "127.0.0.1"],
  });
  const dir = await Deno.makeTempDir({ prefix: "mqtts-test-" });
  await Deno.writeTextFile(`${dir}/ca.pem`, ca.caCertPem);
  const login = { username: "relay", password: "s3cret-relay-password" };
  try {
    await withMosquitto(async (mosquitto) => {
      const url = `mqtts://localhost:${mosquitto.port}`;
      const config = {
        "relay.mqtt.broker_address": url,
        "relay.mqtt.tls.ca_path": `${dir}/ca.pem`,
        "relay.mqtt.username": login.username,
        "relay.mqtt.password": login.password,
        ...FAST_RECONNECT,
      };
      const sub = await MqttSubscriber.connect(url, [ONLINE], {
        ca: ca.caCertPem,
        ...login,
      });
      const t = await startTestRelay({ config });
      try {
        const id = uniqueId("tls");
        await t.device(id);
        await sub.waitForJson(ONLINE, { device_id: id });
        assert.match(
          health(t).message,
          /external broker mqtts:\/\/localhost:\d+, connected/,
        );
        // The tunnel's dialer reaches the same broker over TLS.
        const connection = await t.relay.mqtt!.dialer.dial();
        connection.close();
      } finally {
        await sub.close();
        await t.close();
      }

      // A wrong password: the relay serves devices; MQTT is degraded and says why.
      const refused = await startTestRelay({
        config: { ...config, "relay.mqtt.password": "wrong" },
      });
      try {
        await refused.device(uniqueId("dev"));
        await eventually(
          () => /Not authorized|Bad username/i.test(health(refused).message),
          3000,
          "the refusal in /health",
        );
        assert.equal(health(refused).degraded, true);
      } finally {
        await refused.close();
      }
    }, {
      tls: {
        caPem: ca.caCertPem,
        certPem: server.serverCertPem,
        keyPem: server.serverKeyPem,
      },
      login,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The relay's MQTT health (RunningRelay.mqtt is a RelayMqtt). */
function health(t: { relay: { mqtt?: unknown } }) {
  return (t.relay.mqtt as RelayMqtt).health();
}
