import assert from "node:assert/strict";
import { RelayError } from "../src/errors/relay_error.ts";
import {
  contractTest,
  decode,
  encode,
  eventually,
  hangUntilAborted,
} from "./harness.ts";

contractTest(
  "graceful shutdown answers in-flight requests, refuses new ones and closes devices",
  {
    config: { "relay.shutdown_grace_seconds": 2 },
  },
  async (t) => {
    const agent = await t.device("shut-1", { echo: false });
    let release!: () => void;
    const released = new Promise<void>((resolve) => release = resolve);
    let started = false;
    agent.handle("slow", async () => {
      started = true;
      await released;
      return encode("finished during shutdown");
    });
    const session = t.controller().openSession("shut-1");
    const inFlight = session.call("slow", encode("x"));
    // The first call also looks up the device's E2E key: wait for delivery.
    await eventually(() => started, 5000, "the request to reach the device");

    const disconnected = agent.waitFor("disconnected");
    const stopping = t.relay.shutdown();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Draining: new requests are refused with a code, the first one still runs.
    const refused = await session.request("slow", encode("late"));
    assert.equal(refused.error, "UNAVAILABLE");
    release();
    assert.equal(decode(await inFlight), "finished during shutdown");
    await stopping;
    const state = await disconnected;
    assert.equal(state.error?.code, "UNAVAILABLE");
    const offline = t.presence.find((event) => event.type === "offline");
    assert.equal(
      offline?.type === "offline" && offline.reason,
      "relay_shutdown",
    );
  },
);

contractTest(
  "requests still waiting when the grace period ends fail with UNAVAILABLE",
  {
    config: { "relay.shutdown_grace_seconds": 0.1 },
  },
  async (t) => {
    const agent = await t.device("shut-2", { echo: false });
    agent.handle("hang", hangUntilAborted);
    const outcome = t.controller().call("shut-2", "hang", encode("x"), {
      timeoutMs: 10_000,
    })
      .then(() => undefined, (error: RelayError) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await t.relay.shutdown();
    assert.equal((await outcome)?.code, "UNAVAILABLE");
  },
);
