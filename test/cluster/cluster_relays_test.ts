// Two relays of one cluster on a 3-node NATS cluster (real processes for
// NATS, relays in this process): a device registered for the cluster
// connects to either relay, and a revocation made on one relay ends what it
// names on the other within 1 s: an operator's controller stream, a device's
// session. Either relay lists the whole fleet, with the relay holding each
// device, scoped by RBAC; a relay that stops saying it is alive leaves the
// view with its devices. A controller of one relay calls a device the other
// holds (over both device transports): answers pipelined, one per request,
// end-to-end encrypted, deadlines kept. A device that knows both relays moves
// to the other when its relay stops.
import assert from "node:assert/strict";
import { hashToken } from "../../src/auth/token_hash.ts";
import { deviceConnector } from "../../mod.ts";
import { FleetDirectory } from "../../src/cluster/fleet_directory.ts";
import { RelayError } from "../../src/errors/relay_error.ts";
import { decode, encode, eventually, TRANSPORTS } from "../harness.ts";
import {
  operatorToken,
  RELAY_TTL_SECONDS,
  tools,
  withRelays,
} from "./cluster_fixture.ts";

const PROPAGATION_MS = 1000;

tools.test("cluster: a device registered for the cluster connects to either relay; a revocation on one ends the stream held on the other", async () => {
  await withRelays(async ([a, b], state) => {
    const credential = await state.registerDevice("dev-c1", "default");
    // The device on relay B, a controller of relay B calling it.
    await b!.device("dev-c1", { token: credential });
    const token = await operatorToken();
    const session = b!.controller(token, { e2e: false }).openSession("dev-c1");
    assert.equal(
      decode(await session.call("echo", encode("before"))),
      "before",
    );

    // Revoked through relay A: relay B closes the operator's stream.
    const started = performance.now();
    const revoked = await a!.controller().revokeToken({ token });
    assert.equal(revoked.revoked, true);
    await assert.rejects(
      async () => {
        for (;;) {
          await session.call("echo", encode("after"), { timeoutMs: 500 });
          if (performance.now() - started > 3000) return;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      },
      (error) => error instanceof RelayError && error.code === "UNAUTHORIZED",
    );
    assert.ok(
      performance.now() - started < PROPAGATION_MS,
      `closed after ${(performance.now() - started).toFixed(0)} ms`,
    );
    // And the token is refused by relay B from now on.
    await assert.rejects(
      b!.controller(token).listDevices(),
      (error) => error instanceof RelayError && error.code === "UNAUTHORIZED",
    );
  });
});

tools.test("cluster: a device credential revoked on one relay evicts the device from the other", async () => {
  await withRelays(async ([a, b], state) => {
    const credential = await state.registerDevice("dev-c2", "default");
    const agent = await b!.device("dev-c2", { token: credential });
    const started = performance.now();
    await a!.controller().revokeToken({
      token: hashToken(credential),
      targetType: "DEVICE",
    });
    await eventually(
      () => agent.state.error?.code === "UNAUTHORIZED",
      PROPAGATION_MS,
      "relay B to evict dev-c2",
    );
    assert.ok(performance.now() - started < PROPAGATION_MS);
    assert.equal(
      (await b!.controller().listDevices()).some((d) =>
        d.device_id === "dev-c2" && d.state === "ONLINE"
      ),
      false,
    );
  });
});

tools.test("cluster: either relay lists the whole fleet with the relay holding each device, scoped by RBAC", async () => {
  await withRelays(async ([a, b], state, stop) => {
    const onA = await state.registerDevice("fleet-a", "default");
    const onB = await state.registerDevice("fleet-b", "factory");
    await a!.device("fleet-a", { token: onA, metadata: { region: "eu" } });
    await b!.device("fleet-b", { token: onB, metadata: { region: "us" } });
    for (const relay of [a!, b!]) {
      await eventually(
        async () => (await relay.controller().listDevices()).length === 2,
        PROPAGATION_MS,
        `both devices listed by ${relay.relay.grpcAddress}`,
      );
      const listed = await relay.controller().listDevices();
      const byId = new Map(listed.map((d) => [d.device_id, d]));
      assert.equal(byId.get("fleet-a")?.relay_address, a!.relay.grpcAddress);
      assert.equal(byId.get("fleet-b")?.relay_address, b!.relay.grpcAddress);
      assert.equal(byId.get("fleet-b")?.project, "factory");
      assert.equal(byId.get("fleet-b")?.state, "ONLINE");
      // Filters and RBAC apply to the other relay's devices as to its own.
      const us = await relay.controller().listDevices({ region: "us" });
      assert.deepEqual(us.map((d) => d.device_id), ["fleet-b"]);
      const operator = await relay.controller(await operatorToken())
        .listDevices();
      assert.deepEqual(operator.map((d) => d.device_id), ["fleet-a"]);
    }
    // Gone from relay B (closed): gone from relay A's list too.
    await stop(b!);
    await eventually(
      async () =>
        !(await a!.controller().listDevices()).some((d) =>
          d.device_id === "fleet-b"
        ),
      PROPAGATION_MS,
      "fleet-b to leave relay A's list",
    );
  });
});

tools.test("cluster: a relay that stops saying it is alive leaves the fleet view with its devices", async () => {
  await withRelays(async ([a], state) => {
    // A relay that dies without a word: it wrote its device, then went quiet.
    const ghost = await FleetDirectory.open(state.connection, {
      relayId: "relay-ghost",
      replicas: 3,
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
    }));
    const listed = () =>
      a!.controller().listDevices().then((devices) =>
        devices.some((d) => d.device_id === "ghost-dev")
      );
    await eventually(listed, PROPAGATION_MS, "ghost-dev to be listed");
    // The heartbeat stops; its entry stays (as when killed).
    await ghost.close();
    const stopped = performance.now();
    await eventually(
      async () => !(await listed()),
      RELAY_TTL_SECONDS * 1000 + PROPAGATION_MS,
      "ghost-dev to leave the list",
    );
    const gone = performance.now() - stopped;
    assert.ok(
      gone >= RELAY_TTL_SECONDS * 1000 / 3,
      `left after ${gone.toFixed(0)} ms, before the relay could be missed`,
    );
  });
});

for (const transport of TRANSPORTS) {
  tools.test(`cluster: a controller of relay A calls a device relay B holds, pipelined, one answer each, deadlines kept [${transport}]`, async () => {
    await withRelays(async ([a, b], state) => {
      const credential = await state.registerDevice("far-dev", "default");
      const agent = await b!.device("far-dev", { token: credential });
      agent.handle("slow", async ({ signal }) => {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        signal.throwIfAborted();
        return encode("too late");
      });
      const client = a!.controller(); // end-to-end encrypted, as by default
      await eventually(
        async () =>
          (await client.listDevices()).some((d) => d.device_id === "far-dev"),
        PROPAGATION_MS,
        "relay A to list far-dev",
      );
      const session = client.openSession("far-dev");
      const answers = await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) => session.call("echo", encode(`request ${i}`)).then(decode),
        ),
      );
      assert.deepEqual(
        answers,
        Array.from({ length: 20 }, (_, i) => `request ${i}`),
      );
      assert.equal(agent.stats.requestsHandled >= 20, true);
      await assert.rejects(
        session.call("slow", encode("x"), { timeoutMs: 300 }),
        (error) =>
          error instanceof RelayError && error.code === "DEADLINE_EXCEEDED",
      );
      // The session still answers after the deadline.
      assert.equal(
        decode(await session.call("echo", encode("again"))),
        "again",
      );
      // A device no relay holds is offline, as on a relay alone.
      await state.registerDevice("nowhere-dev", "default");
      await assert.rejects(
        a!.controller(undefined, { e2e: false }).call(
          "nowhere-dev",
          "echo",
          encode("x"),
        ),
        (error) =>
          error instanceof RelayError && error.code === "DEVICE_OFFLINE",
      );
    }, transport);
  });
}

for (const transport of TRANSPORTS) {
  tools.test(`cluster: a device that knows both relays moves to the other when its relay stops [${transport}]`, async () => {
    await withRelays(async ([a, b], state, stop) => {
      const credential = await state.registerDevice("roamer", "default");
      // Made through B's harness: closing relay A's harness closes its agents.
      const agent = await b!.device("roamer", {
        token: credential,
        // What `relay device --relay A,B --quic-relay QA,QB` builds.
        connector: deviceConnector({
          ...a!.clientOptions,
          address: `${a!.relay.grpcAddress},${b!.relay.grpcAddress}`,
          quicAddress: `${a!.relay.quicAddress},${b!.relay.quicAddress}`,
          // A stopped relay's QUIC port answers nothing: the handshake times
          // out (5 s by default) before the device moves on.
          quicConnectTimeoutMs: 1000,
        }),
        backoff: { initialMs: 50, maxMs: 200, refusedMaxMs: 200 },
      });
      const holder = async () =>
        (await b!.controller().listDevices()).find((d) =>
          d.device_id === "roamer"
        )?.relay_address;
      await eventually(
        async () => (await holder()) === a!.relay.grpcAddress,
        PROPAGATION_MS,
        "relay B to see roamer on relay A",
      );
      const stopped = performance.now();
      await stop(a!);
      await eventually(
        async () => (await holder()) === b!.relay.grpcAddress,
        5000,
        "roamer to move to relay B",
      );
      console.log(
        `roamer on relay B ${
          (performance.now() - stopped).toFixed(0)
        } ms after relay A stopped`,
      );
      assert.equal(agent.state.state, "connected");
      const session = b!.controller().openSession("roamer");
      assert.equal(
        decode(await session.call("echo", encode("moved"))),
        "moved",
      );
    }, transport);
  });
}
