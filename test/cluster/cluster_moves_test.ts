// Sessions move between relays of a cluster (issue 17). A device cut off
// from relay B that reconnects to relay A within the resume window resumes
// its session there (same connection id): the requests waiting for it on B
// follow it, each answered once, and no relay reports it offline. A relay
// that drains tells its devices where to go (a device that knows only the
// draining relay too) and they move with their sessions while controllers
// keep calling them: no request fails or runs twice; /health says
// "draining" meanwhile.
import assert from "node:assert/strict";
import { deviceConnector } from "../../mod.ts";
import type { DeviceAgent } from "../../src/sdk/device_agent.ts";
import type { DeviceRequest } from "../../src/sdk/request_dispatcher.ts";
import { RelayError } from "../../src/errors/relay_error.ts";
import {
  decode,
  encode,
  eventually,
  type TestRelay,
  TRANSPORTS,
} from "../harness.ts";
import { TcpForwarder } from "../net/tcp_forwarder.ts";
import { operatorToken, tools, withRelays } from "./cluster_fixture.ts";

/** How many times the device's handler ran per payload. */
function countingHandler(runs: Map<string, number>) {
  return (request: DeviceRequest) => {
    const text = decode(request.payload);
    runs.set(text, (runs.get(text) ?? 0) + 1);
    return request.payload;
  };
}

async function holderOf(relay: TestRelay, deviceId: string) {
  return (await relay.controller().listDevices()).find((device) =>
    device.device_id === deviceId
  )?.relay_address;
}

const offlineEvents = (relay: TestRelay, deviceId: string) =>
  relay.presence.filter((event) =>
    event.type === "offline" && event.session.deviceId === deviceId &&
    event.reason !== "moved"
  );

tools.test("cluster: a device cut off from relay B resumes its session on relay A; the requests waiting on B follow it, each answered once, and nobody reports it offline", async () => {
  await withRelays(async ([a, b], state) => {
    const credential = await state.registerDevice("mover", "default");
    // The device reaches relay B through a path the test cuts.
    const path = TcpForwarder.start(b!.relay.grpcAddress);
    const runs = new Map<string, number>();
    try {
      const agent = await b!.device("mover", {
        token: credential,
        echo: false,
        connector: deviceConnector({
          caPem: b!.relay.caPem,
          transport: "h2",
          address: `${path.address},${a!.relay.grpcAddress}`,
        }),
        // Slow enough that the requests below wait on B for the device.
        backoff: { initialMs: 600, maxMs: 600, random: () => 0.9 },
      });
      agent.handle("*", countingHandler(runs));
      const connectionId = agent.state.connectionId;
      await eventually(
        async () => (await holderOf(a!, "mover")) === b!.relay.grpcAddress,
        1000,
        "relay A to list mover on relay B",
      );

      await path.cut();
      await eventually(
        () => b!.relay.core.registry.get("mover")?.link === null,
        2000,
        "relay B to see mover's link drop",
      );
      // Waiting on B: two from B's own controller, two through relay A.
      const answers = ["b-1", "b-2", "a-1", "a-2"].map((text) => {
        const relay = text.startsWith("a") ? a! : b!;
        return relay.controller(undefined, { e2e: false })
          .openSession("mover")
          .call("echo", encode(text), { timeoutMs: 10_000 })
          .then(decode);
      });
      assert.deepEqual(await Promise.all(answers), [
        "b-1",
        "b-2",
        "a-1",
        "a-2",
      ]);
      assert.deepEqual([...runs.values()], [1, 1, 1, 1]);

      // One session all along, now on relay A.
      assert.equal(agent.state.connectionId, connectionId);
      assert.equal(agent.state.resumed, true);
      assert.ok(
        a!.presence.some((event) =>
          event.type === "online" && event.session.deviceId === "mover" &&
          event.movedFrom === "relay-1"
        ),
      );
      for (const relay of [a!, b!]) {
        assert.equal(
          await holderOf(relay, "mover"),
          a!.relay.grpcAddress,
        );
        assert.deepEqual(offlineEvents(relay, "mover"), []);
      }
    } finally {
      await path.cut();
    }
  });
});

for (const transport of TRANSPORTS) {
  tools.test(`cluster: relay B drains under steady controller traffic: its devices move to relay A with their sessions, no request fails or runs twice [${transport}]`, async () => {
    await withRelays(async ([a, b], state) => {
      const ids = ["drain-1", "drain-2", "drain-3"];
      const runs = new Map<string, number>();
      const agents: DeviceAgent[] = [];
      for (const id of ids) {
        // Each knows relay B only: the drain's hint sends it to relay A.
        const agent = await b!.device(id, {
          token: await state.registerDevice(id, "default"),
          echo: false,
          connector: deviceConnector(b!.clientOptions),
        });
        agent.handle("*", countingHandler(runs));
        agents.push(agent);
      }
      const connectionIds = agents.map((agent) => agent.state.connectionId);
      await eventually(
        async () => (await a!.controller().listDevices()).length === 3,
        1000,
        "relay A to list relay B's devices",
      );

      // Steady traffic from a controller of relay A to every device.
      let running = true;
      const failures: string[] = [];
      let sent = 0;
      const traffic = ids.map(async (id) => {
        const session = a!.controller(undefined, { e2e: false })
          .openSession(id);
        for (let n = 0; running; n++) {
          const text = `${id}/${n}`;
          sent++;
          try {
            const answer = await session.call("echo", encode(text), {
              timeoutMs: 10_000,
            });
            if (decode(answer) !== text) failures.push(`${text}: wrong answer`);
          } catch (error) {
            failures.push(`${text}: ${RelayError.from(error).message}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 300));

      const health = `http://127.0.0.1:${b!.relay.healthPort}/health`;
      const started = performance.now();
      const stopped = b!.relay.shutdown(10_000);
      let sawDraining = false;
      while (!sawDraining && performance.now() - started < 5000) {
        const response = await fetch(health).catch(() => undefined);
        if (response === undefined) break;
        const body = await response.json();
        sawDraining = response.status === 503 && body.status === "draining";
      }
      await stopped;
      const drainMs = performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 300));
      running = false;
      await Promise.all(traffic);
      console.log(
        `[${transport}] relay B drained and stopped in ${
          drainMs.toFixed(0)
        } ms; ${sent} requests, ${failures.length} failed`,
      );

      assert.ok(sawDraining, "/health said draining");
      assert.deepEqual(failures, []);
      assert.equal(runs.size, sent);
      assert.ok([...runs.values()].every((count) => count === 1));
      assert.ok(drainMs < 5000, `drain took ${drainMs.toFixed(0)} ms`);
      assert.deepEqual(
        agents.map((agent) => agent.state.connectionId),
        connectionIds,
      );
      for (const id of ids) {
        assert.equal(await holderOf(a!, id), a!.relay.grpcAddress);
        assert.deepEqual(offlineEvents(b!, id), []);
      }
    }, transport);
  });
}

tools.test("cluster: the Drain RPC is for admins; a drained relay reports stopped", async () => {
  await withRelays(async ([_a, b], state) => {
    await assert.rejects(
      b!.controller(await operatorToken()).drainRelay(),
      (error) =>
        error instanceof RelayError && error.code === "PERMISSION_DENIED",
    );
    await b!.device("drain-rpc", {
      token: await state.registerDevice("drain-rpc", "default"),
    });
    const { devices } = await b!.controller().drainRelay({ timeoutSeconds: 5 });
    assert.equal(devices, 1);
    await b!.relay.stopped;
    assert.equal(b!.relay.core.registry.size, 0);
  });
});
