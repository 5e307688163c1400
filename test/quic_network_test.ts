// QUIC devices on bad networks, through a user-space UDP forwarder between
// the device agent and the relay: NAT rebinding (connection migration),
// loss with delay, and blackholes shorter or longer than the resume window.
// Controllers use QUIC too, but reach the relay directly: only the device's
// path is impaired.
import assert from "node:assert/strict";
import { deviceConnector } from "../mod.ts";
import type { DeviceAgent } from "../src/sdk/device_agent.ts";
import type { RelayError } from "../src/errors/relay_error.ts";
import { CountingSession } from "./counting_session.ts";
import {
  decode,
  encode,
  eventually,
  startTestRelay,
  type TestRelay,
  type TestRelayOptions,
} from "./harness.ts";
import { UdpForwarder, type UdpForwarderOptions } from "./net/udp_forwarder.ts";
import { withDeadline } from "./with_deadline.ts";

interface Fixture {
  t: TestRelay;
  forwarder: UdpForwarder;
  /** Starts a QUIC device agent whose datagrams all pass the forwarder. */
  device(deviceId: string): Promise<DeviceAgent>;
}

/** A relay for QUIC clients, and a forwarder in front of its QUIC port. */
async function withForwardedRelay(
  options: Omit<TestRelayOptions, "transport"> & {
    forwarder?: Omit<UdpForwarderOptions, "upstream">;
  },
  body: (fixture: Fixture) => Promise<void>,
): Promise<void> {
  const { forwarder: forwarderOptions, ...relayOptions } = options;
  const t = await startTestRelay({ ...relayOptions, transport: "quic" });
  const forwarder = new UdpForwarder({
    ...forwarderOptions,
    upstream: t.relay.quicAddress,
  });
  try {
    await body({
      t,
      forwarder,
      device: (deviceId) =>
        t.device(deviceId, {
          connector: deviceConnector({
            ...t.clientOptions,
            transport: "quic",
            quicAddress: forwarder.address,
          }),
        }),
    });
    assert.deepEqual(forwarder.errors, []);
  } finally {
    // Agents close gracefully, through the forwarder.
    forwarder.blackhole = false;
    forwarder.impair({ lossRate: 0, delayMs: 0, jitterMs: 0 });
    await t.close();
    await forwarder.close();
  }
}

const range = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => from + i);

/** Asserts each request was answered exactly once, OK, with its own payload. */
function assertEchoedOnce(session: CountingSession, sequences: number[]) {
  for (const n of sequences) {
    const answers = session.responsesFor(n);
    assert.equal(answers.length, 1, `request ${n}: ${answers.length} answers`);
    assert.equal(answers[0]!.error, "OK", `request ${n}: ${answers[0]!.error}`);
    assert.equal(decode(answers[0]!.encrypted_payload), `request-${n}`);
  }
}

// QUIC follows a NAT rebinding when the device's next datagram arrives from
// its new source port; until then the relay can only send to the old one.
// Here that next datagram is the answers to requests held in the handler
// across the rebind, so the switch happens mid-stream.
Deno.test("a NAT rebinding mid-stream keeps the QUIC session: same connection, nothing lost, no offline", async () => {
  await withForwardedRelay({}, async (f) => {
    const agent = await f.device("migrate-1");
    let arrived = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => release = resolve);
    agent.handle("*", async (request) => {
      arrived++;
      await gate;
      return request.payload;
    });
    const states: string[] = [];
    agent.onState((state) => states.push(state.state));
    const connectionId = agent.state.connectionId;
    const generation = f.t.relay.core.registry.get("migrate-1")!.generation;
    const session = new CountingSession(
      f.t.clientOptions,
      f.t.relay.adminToken,
      "migrate-1",
    );
    try {
      const send = (sequences: number[]) =>
        Promise.all(
          sequences.map((n) => session.send(n, "echo", encode(`request-${n}`))),
        );
      // Before: 50 requests reach the device and wait in its handler.
      await send(range(1, 50));
      await eventually(() => arrived === 50, 3000, "50 requests at the device");
      const [oldPort] = f.forwarder.upstreamPorts;
      const downBefore = f.forwarder.stats.received.down;
      const [newPort] = f.forwarder.rebind();
      assert.notEqual(newPort, oldPort);
      // During: the held answers leave from the new port, new requests follow.
      release();
      await send(range(51, 50));
      await session.waitFor(range(1, 100), 5000);
      // After: the relay sends to the new address by now.
      await new Promise((resolve) => setTimeout(resolve, 100));
      await send(range(101, 50));
      await session.waitFor(range(1, 150), 5000);

      assertEchoedOnce(session, range(1, 150));
      assert.equal(arrived, 150, "every request reached the device once");
      assert.ok(
        f.forwarder.stats.received.down > downBefore,
        "the relay sent to the new source port",
      );
      // The session never noticed: no reconnect, no resume, no offline.
      assert.deepEqual(states, []);
      assert.equal(agent.state.connectionId, connectionId);
      const live = f.t.relay.core.registry.get("migrate-1")!;
      assert.equal(live.generation, generation, "same link, not a resume");
      const [info] = await f.t.controller().listDevices();
      assert.equal(info?.connection_id, connectionId);
      assert.equal(info?.state, "ONLINE");
      assert.deepEqual(f.t.presence.map((event) => event.type), ["online"]);
    } finally {
      release();
      await session.close();
    }
  });
});

// An idle device gives the relay nothing to follow until it sends again:
// its heartbeat (every 0.1 s here, announced by the relay) is what moves
// the path, so a request waits at most about one heartbeat interval.
Deno.test("an idle device is reached again after a NAT rebinding once it heartbeats", async () => {
  await withForwardedRelay({
    config: { "relay.heartbeat_interval_seconds": 0.1 },
  }, async (f) => {
    const agent = await f.device("migrate-2");
    const states: string[] = [];
    agent.onState((state) => states.push(state.state));
    const connectionId = agent.state.connectionId;
    const controller = f.t.controller();
    assert.equal(
      decode(await controller.call("migrate-2", "echo", encode("before"))),
      "before",
    );
    f.forwarder.rebind();
    const started = performance.now();
    assert.equal(
      decode(await controller.call("migrate-2", "echo", encode("after"))),
      "after",
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2000, `answered after ${elapsed} ms`);
    assert.deepEqual(states, []);
    assert.equal(agent.state.connectionId, connectionId);
    assert.deepEqual(f.t.presence.map((event) => event.type), ["online"]);
  });
});

Deno.test("200 pipelined requests over QUIC with 5% loss and 50 ms delay each way all complete", async () => {
  await withForwardedRelay({
    forwarder: {
      seed: 20_240_601,
      impairment: { lossRate: 0.05, delayMs: 50 },
    },
  }, async (f) => {
    // The handshake crosses the lossy link too; a lost Initial costs a PTO.
    const agent = await f.device("lossy-1");
    const connectionId = agent.state.connectionId;
    const session = new CountingSession(
      f.t.clientOptions,
      f.t.relay.adminToken,
      "lossy-1",
    );
    try {
      const started = performance.now();
      const sequences = range(1, 200);
      await Promise.all(
        sequences.map((n) => session.send(n, "echo", encode(`request-${n}`))),
      );
      await session.waitFor(sequences, 8000);
      const elapsed = performance.now() - started;
      assertEchoedOnce(session, sequences);
      assert.ok(elapsed < 8000, `took ${elapsed} ms`);
      assert.ok(f.forwarder.stats.lost > 0, "datagrams were lost");
      assert.equal(agent.state.connectionId, connectionId, "no reconnect");
      assert.ok(!f.t.presence.some((event) => event.type === "offline"));
    } finally {
      await session.close();
    }
  });
});

// Blackholes. A blackholed QUIC device is only seen as gone when QUIC's idle
// timeout fires: relay.quic.idle_timeout_seconds is 0.5 s here, and QUIC
// peers use the smaller of both sides' values, so the agent (default 30 s)
// also drops the connection after 0.5 s. The relay's keep-alive (0.1 s)
// keeps a healthy path well inside that. From then on the session is
// resumable for relay.session.resume_window_seconds.
// The agent starts reconnecting at once; its QUIC handshake keeps the
// default 5 s timeout, so an attempt begun in the blackhole completes when
// its Initial is retransmitted (one PTO, about 1 s, after it started) once
// the blackhole is lifted.
const BLACKHOLE_CONFIG = {
  "relay.quic.idle_timeout_seconds": 0.5,
  "relay.quic.keep_alive_seconds": 0.1,
};

Deno.test("a blackhole longer than the resume window ends in DEVICE_OFFLINE and an offline event", async () => {
  await withForwardedRelay({
    config: {
      ...BLACKHOLE_CONFIG,
      "relay.session.resume_window_seconds": 0.3,
    },
  }, async (f) => {
    const agent = await f.device("dark-1");
    const connectionId = agent.state.connectionId;
    const controller = f.t.controller();
    f.forwarder.blackhole = true;
    const started = performance.now();
    // Sent into the blackhole: it waits for a resume that never comes.
    // Idle timeout (0.5 s) + resume window (0.3 s) is well inside its 5 s.
    await assert.rejects(
      controller.call("dark-1", "echo", encode("lost"), { timeoutMs: 5000 }),
      (error: RelayError) => error.code === "DEVICE_OFFLINE",
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 600, `failed after ${elapsed} ms, before expiry`);
    assert.ok(elapsed < 3000, `failed after ${elapsed} ms, not at expiry`);
    const offline = f.t.presence.filter((event) => event.type === "offline");
    assert.deepEqual(
      offline.map((event) => event.type === "offline" && event.reason),
      ["resume_window_expired"],
    );
    assert.deepEqual(await controller.listDevices(), []);

    // Once the path is back the agent registers a new session.
    const back = agent.waitFor("connected");
    f.forwarder.blackhole = false;
    const state = await withDeadline(back, 5000, "a new session");
    assert.notEqual(state.connectionId, connectionId);
    assert.equal(state.resumed, false);
    assert.equal(
      decode(await controller.call("dark-1", "echo", encode("new session"))),
      "new session",
    );
  });
});

Deno.test("a blackhole shorter than the resume window resumes the session and delivers the waiting request", async () => {
  await withForwardedRelay({
    config: {
      ...BLACKHOLE_CONFIG,
      "relay.session.resume_window_seconds": 5,
    },
  }, async (f) => {
    const agent = await f.device("dim-1");
    const connectionId = agent.state.connectionId;
    const controller = f.t.controller();
    const resumed = agent.waitFor("connected", (state) => state.resumed);
    f.forwarder.blackhole = true;
    const reply = controller.call("dim-1", "echo", encode("waited"), {
      timeoutMs: 5000,
    });
    // Lift the blackhole once the relay has seen the drop (QUIC idle
    // timeout), so the session really goes through a resume.
    await eventually(
      () =>
        f.t.presence.some((event) =>
          event.type === "state" && event.state === "disconnected"
        ),
      3000,
      "the relay to see the drop",
    );
    f.forwarder.blackhole = false;
    assert.equal(decode(await reply), "waited");
    const state = await withDeadline(resumed, 5000, "the resume");
    assert.equal(state.connectionId, connectionId);
    const [info] = await controller.listDevices();
    assert.equal(info?.connection_id, connectionId);
    assert.equal(info?.state, "ONLINE");
    assert.equal(info?.transport, "quic");
    assert.ok(!f.t.presence.some((event) => event.type === "offline"));
  });
});

Deno.test("a blackhole shorter than the QUIC idle timeout is ridden out by QUIC itself", async () => {
  await withForwardedRelay({
    config: {
      // 1 s idle timeout against a 0.2 s blackhole: margin for a slow machine.
      "relay.quic.idle_timeout_seconds": 1,
      "relay.quic.keep_alive_seconds": 0.1,
    },
  }, async (f) => {
    const agent = await f.device("blink-1");
    const states: string[] = [];
    agent.onState((state) => states.push(state.state));
    const controller = f.t.controller();
    f.forwarder.blackhole = true;
    const reply = controller.call("blink-1", "echo", encode("retransmitted"), {
      timeoutMs: 5000,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    f.forwarder.blackhole = false;
    assert.equal(decode(await reply), "retransmitted");
    assert.deepEqual(states, [], "no reconnect");
    assert.deepEqual(f.t.presence.map((event) => event.type), ["online"]);
  });
});

Deno.test("a relay that goes silent is left after two heartbeat intervals, long before the QUIC idle timeout", async () => {
  await withForwardedRelay({
    config: {
      "relay.heartbeat_interval_seconds": 0.2,
      // QUIC alone would notice only after 30 s.
      "relay.quic.idle_timeout_seconds": 30,
      "relay.session.resume_window_seconds": 0.3,
    },
  }, async (f) => {
    const agent = await f.device("silent-1");
    const reconnecting = agent.waitFor("connecting");
    const started = performance.now();
    f.forwarder.blackhole = true;
    await withDeadline(reconnecting, 5000, "the agent to give up the path");
    const elapsed = performance.now() - started;
    // 2 x 0.2 s + 2 s grace, checked at each heartbeat.
    assert.ok(elapsed >= 400, `left after ${elapsed} ms: too early`);
    f.forwarder.blackhole = false;
    await withDeadline(agent.waitFor("connected"), 5000, "a new session");
  });
});
