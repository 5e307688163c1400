// A device waiting for a restarting relay: refused connections (nothing
// listens) do not grow its backoff past refusedMaxMs, so it is back soon
// after the relay returns, however long the relay was down.
import assert from "node:assert/strict";
import { deviceConnector } from "../mod.ts";
import { parseHostPort } from "../src/config/host_port.ts";
import { RelayError } from "../src/errors/relay_error.ts";
import { DeviceAgent } from "../src/sdk/device_agent.ts";
import { startTestRelay } from "./harness.ts";

function freeTcpPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("a device is back within refusedMaxMs of a restarted relay's return, not after its grown backoff", async () => {
  const stateDir = await Deno.makeTempDir({ prefix: "relay-refused-" });
  const config = { "relay.address": `127.0.0.1:${freeTcpPort()}` };
  let agent: DeviceAgent | undefined;
  try {
    const first = await startTestRelay({ stateDir, config });
    agent = new DeviceAgent({
      connector: deviceConnector(first.clientOptions),
      deviceId: "refused-1",
      token: first.registerDevice("refused-1"),
      allowPlaintext: true,
      // The top of each jitter window: without the refused ceiling, 2.5 s of
      // refusals grow the window to 1.28 s and more.
      backoff: {
        initialMs: 20,
        maxMs: 10_000,
        refusedMaxMs: 100,
        random: () => 0.999,
      },
    });
    const connected = agent.waitFor("connected");
    agent.start();
    await connected;
    await first.close();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const reconnected = agent.waitFor("connected");
    const second = await startTestRelay({ stateDir, config });
    const returnedAt = performance.now();
    try {
      await reconnected;
      const ms = performance.now() - returnedAt;
      assert.ok(ms < 1000, `back ${ms.toFixed(0)} ms after the relay returned`);
    } finally {
      await agent.close();
      await second.close();
    }
  } finally {
    await Deno.remove(stateDir, { recursive: true });
  }
});

Deno.test("an h2 connection the relay sheds before TLS is marked refused, for the short backoff", async () => {
  const t = await startTestRelay({
    transport: "h2",
    config: { "relay.session.max_pending_handshakes": 1 },
  });
  // A silent connection holds the one handshake place.
  const holder = await Deno.connect({
    hostname: "127.0.0.1",
    port: parseHostPort(t.relay.grpcAddress).port,
  });
  const connector = deviceConnector({ ...t.clientOptions, transport: "h2" });
  try {
    const stream = connector.connect();
    // grpc-js dials on the first message; the failure ends the stream.
    const error = await (async () => {
      await stream.send({ register: { device_id: "shed-1" } });
      for await (const _ of stream.messages) break;
    })().then(
      () => assert.fail("the shed connection was served"),
      (error) => error,
    );
    assert.ok(error instanceof RelayError, String(error));
    assert.equal(error.refused, true, error.message);
  } finally {
    holder.close();
    connector.close();
    await t.close();
  }
});

Deno.test("an h2 device dials the relay on every one of its own retries, not on grpc-js's growing backoff", async () => {
  // A relay that sheds every connection: accepted, then closed before TLS.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let dials = 0;
  const shedding = (async () => {
    for await (const conn of listener) {
      dials++;
      conn.close();
    }
  })();
  const agent = new DeviceAgent({
    connector: deviceConnector({
      address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
      transport: "h2",
      insecure: true,
    }),
    deviceId: "dials-1",
    token: "unused",
    allowPlaintext: true,
    // About 100 ms between attempts.
    backoff: {
      initialMs: 20,
      maxMs: 100,
      refusedMaxMs: 100,
      random: () => 0.999,
    },
  });
  try {
    agent.start();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    // grpc-js's own backoff (1.6x per failure from 200 ms) would allow about
    // 6 dials in 3 s and fail the other attempts without dialling.
    assert.ok(dials >= 12, `${dials} dials in 3 s`);
  } finally {
    await agent.close();
    listener.close();
    await shedding.catch(() => {});
  }
});
