// QUIC-first device agents when UDP is blocked: happy eyeballs falls back to
// HTTP/2 within a few seconds, keeps probing QUIC, and moves the session
// back (same connection id, no request lost) once UDP gets through again.
// UDP is blocked either by a port where nothing listens or by a user-space
// forwarder in blackhole mode, which is then lifted.
import assert from "node:assert/strict";
import { deviceConnector } from "../mod.ts";
import {
  type AgentStateDetail,
  DeviceAgent,
  echoHandler,
} from "../src/sdk/device_agent.ts";
import type { ClientTransportOptions } from "../src/cli/wiring.ts";
import { CountingSession } from "./counting_session.ts";
import { decode, encode, startTestRelay, type TestRelay } from "./harness.ts";
import { UdpForwarder } from "./net/udp_forwarder.ts";
import { withDeadline } from "./with_deadline.ts";

/** A loopback UDP port with nothing behind it (bound, then released). */
function unusedUdpPort(): number {
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const { port } = socket.addr as Deno.NetAddr;
  socket.close();
  return port;
}

async function metricsText(t: TestRelay): Promise<string> {
  const response = await fetch(
    `http://127.0.0.1:${t.relay.healthPort}/metrics`,
  );
  return await response.text();
}

/** A device agent whose state events are all recorded from the start. */
async function startAgent(
  t: TestRelay,
  deviceId: string,
  transport: Partial<ClientTransportOptions>,
): Promise<{ agent: DeviceAgent; states: AgentStateDetail[] }> {
  const agent = new DeviceAgent({
    connector: deviceConnector({ ...t.clientOptions, ...transport }),
    deviceId,
    token: t.registerDevice(deviceId),
    backoff: { initialMs: 20, maxMs: 200 },
    allowPlaintext: true, // CountingSession sends plaintext
  });
  const states: AgentStateDetail[] = [];
  agent.onState((state) => states.push(state));
  agent.handle("*", echoHandler);
  const connected = agent.waitFor("connected");
  agent.start();
  try {
    await withDeadline(connected, 5000, `${deviceId} to connect`);
  } catch (error) {
    await agent.close();
    throw error;
  }
  return { agent, states };
}

interface BlockedUdp {
  quicAddress: string;
  close(): Promise<void>;
  forwarder?: UdpForwarder;
}

const blockedUdp: { name: string; block(t: TestRelay): BlockedUdp }[] = [
  {
    name: "nothing listens on the QUIC port",
    block: () => ({
      quicAddress: `127.0.0.1:${unusedUdpPort()}`,
      close: () => Promise.resolve(),
    }),
  },
  {
    name: "a forwarder drops every datagram",
    block: (t: TestRelay) => {
      const forwarder = new UdpForwarder({ upstream: t.relay.quicAddress });
      forwarder.blackhole = true;
      return {
        quicAddress: forwarder.address,
        close: () => forwarder.close(),
        forwarder,
      };
    },
  },
];

for (const { name, block } of blockedUdp) {
  Deno.test(`auto transport falls back to HTTP/2 when ${name}`, async () => {
    const t = await startTestRelay({ transport: "h2" });
    const udp = block(t);
    let agent: DeviceAgent | undefined;
    try {
      const started = performance.now();
      const run = await startAgent(t, "fallback-1", {
        transport: "auto",
        quicAddress: udp.quicAddress,
        headStartMs: 100,
        quicConnectTimeoutMs: 500,
        // Moving back to QUIC is the next test's subject.
        probeIntervalMs: 60_000,
      });
      agent = run.agent;
      const elapsed = performance.now() - started;
      assert.ok(elapsed < 3000, `connected after ${elapsed} ms`);

      // State events: connecting (racing, "auto"), then connected over h2.
      assert.deepEqual(
        run.states.map(({ state, transport }) => ({ state, transport })),
        [
          { state: "connecting", transport: "auto" },
          { state: "connected", transport: "h2" },
        ],
      );
      const [info] = await t.controller().listDevices();
      assert.equal(info?.device_id, "fallback-1");
      assert.equal(info?.transport, "h2");
      assert.equal(info?.connection_id, agent.state.connectionId);
      const reply = await t.controller().call(
        "fallback-1",
        "echo",
        encode("over h2"),
      );
      assert.equal(decode(reply), "over h2");
      assert.match(
        await metricsText(t),
        /relay_devices\{state="online",transport="h2"\} 1/,
      );
      if (udp.forwarder) {
        assert.ok(udp.forwarder.stats.blackholed > 0, "QUIC was attempted");
      }
    } finally {
      await agent?.close();
      await t.close();
      await udp.close();
    }
  });
}

Deno.test("after a fallback the agent moves back to QUIC without losing a request", async () => {
  const t = await startTestRelay({ transport: "h2" });
  const forwarder = new UdpForwarder({ upstream: t.relay.quicAddress });
  forwarder.blackhole = true;
  let agent: DeviceAgent | undefined;
  const session = new CountingSession(
    t.clientOptions,
    t.relay.adminToken,
    "upgrade-1",
  );
  try {
    const run = await startAgent(t, "upgrade-1", {
      transport: "auto",
      quicAddress: forwarder.address,
      // The head start leaves a loaded machine time to finish the QUIC
      // handshake when the agent moves back (that race also runs then).
      headStartMs: 250,
      quicConnectTimeoutMs: 400,
      probeIntervalMs: 100,
    });
    agent = run.agent;
    // A handler slow enough to be in flight while the session moves.
    agent.handle("slow", async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return request.payload;
    });
    assert.equal(agent.state.transport, "h2");
    const connectionId = agent.state.connectionId;
    const controller = t.controller();
    assert.equal((await controller.listDevices())[0]?.transport, "h2");

    // Requests before, around and after the switch, on one stream.
    let sequence = 0;
    const sent: number[] = [];
    const send = async (method: string) => {
      const n = ++sequence;
      sent.push(n);
      await session.send(n, method, encode(`request-${n}`));
    };
    for (let i = 0; i < 10; i++) await send("echo");
    await session.waitFor(sent, 3000);

    const onQuic = agent.waitFor(
      "connected",
      (state) => state.transport === "quic",
    );
    await send("slow");
    forwarder.blackhole = false;
    const lifted = performance.now();
    let switched = false;
    onQuic.then(() => switched = true);
    // Keep a request in flight every 20 ms until the agent is on QUIC.
    while (!switched) {
      await send("slow");
      await send("echo");
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(performance.now() - lifted < 5000, "moved to QUIC in time");
    }
    const moved = await onQuic;
    for (let i = 0; i < 10; i++) await send("echo");
    await session.waitFor(sent, 5000);

    assert.equal(moved.connectionId, connectionId, "same connection id");
    assert.equal(moved.resumed, true);
    for (const n of sent) {
      const answers = session.responsesFor(n);
      assert.equal(answers.length, 1, `request ${n} answered once`);
      assert.equal(
        answers[0]!.error,
        "OK",
        `request ${n}: ${answers[0]!.error}`,
      );
      assert.equal(decode(answers[0]!.encrypted_payload), `request-${n}`);
    }
    const [info] = await controller.listDevices();
    assert.equal(info?.transport, "quic");
    assert.equal(info?.connection_id, connectionId);
    assert.equal(info?.state, "ONLINE");
    const metrics = await metricsText(t);
    assert.match(metrics, /relay_devices\{state="online",transport="quic"\} 1/);
    assert.match(
      metrics,
      /relay_transport_switches_total\{from="h2",to="quic"\} 1/,
    );
    // One clean move: no drop on either side, one resume on the relay.
    assert.deepEqual(
      run.states.map(({ state, transport }) => `${state}/${transport}`),
      ["connecting/auto", "connected/h2", "connected/quic"],
    );
    assert.deepEqual(
      t.presence.map((event) =>
        event.type === "online" ? `online resumed=${event.resumed}` : event.type
      ),
      ["online resumed=false", "online resumed=true"],
    );
  } finally {
    forwarder.blackhole = false;
    await session.close();
    await agent?.close();
    await t.close();
    await forwarder.close();
  }
});

// Regression test for two defects it used to reproduce: the relay crashed when
// a client abandoned its QUIC handshake (the losing QUIC attempt of the race),
// and the agent moved back with a full race, so HTTP/2 won again and the
// device flapped; it now moves over the preferred transport only.
Deno.test({
  name:
    "on a slow UDP path the agent falls back, then moves to QUIC once, without flapping",
  fn: async () => {
    const t = await startTestRelay({ transport: "h2" });
    // 40 ms each way: the QUIC handshake takes well over the 20 ms head
    // start, so HTTP/2 wins the first race; QUIC works, only slowly.
    const forwarder = new UdpForwarder({
      upstream: t.relay.quicAddress,
      impairment: { delayMs: 40 },
    });
    let agent: DeviceAgent | undefined;
    try {
      const run = await startAgent(t, "slow-udp-1", {
        transport: "auto",
        quicAddress: forwarder.address,
        headStartMs: 20,
        probeIntervalMs: 200,
      });
      agent = run.agent;
      assert.equal(agent.state.transport, "h2");
      const connectionId = agent.state.connectionId;
      await withDeadline(
        agent.waitFor("connected", (state) => state.transport === "quic"),
        5000,
        "the move to QUIC",
      );
      // Several probe intervals later it is still there, never dropped.
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.deepEqual(
        run.states.map(({ state, transport }) => `${state}/${transport}`),
        ["connecting/auto", "connected/h2", "connected/quic"],
      );
      assert.equal(agent.state.connectionId, connectionId);
      assert.deepEqual(
        t.presence.map((event) =>
          event.type === "online"
            ? `online resumed=${event.resumed}`
            : event.type
        ),
        ["online resumed=false", "online resumed=true"],
      );
      const reply = await t.controller().call(
        "slow-udp-1",
        "echo",
        encode("over slow QUIC"),
      );
      assert.equal(decode(reply), "over slow QUIC");
    } finally {
      await agent?.close();
      await t.close();
      await forwarder.close();
    }
  },
});
