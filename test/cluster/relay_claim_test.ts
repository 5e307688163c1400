// One running relay per relay.id in a cluster: a second relay with the id of
// a live one fails at start naming relay.id; the id of a relay that crashed
// (heartbeat stopped, entries left) is taken over once its TTL has passed,
// its stale device entries removed, and that of a relay that stopped
// gracefully at once; of two instances that start together, one runs.
import assert from "node:assert/strict";
import { ClusterState } from "../../src/cluster/cluster_state.ts";
import { FleetDirectory } from "../../src/cluster/fleet_directory.ts";
import { RelayError } from "../../src/errors/relay_error.ts";
import { startTestRelay } from "../harness.ts";
import { NATS_SERVER, SystemTools } from "../system_tools.ts";
import { NatsCluster } from "./nats_cluster.ts";

const tools = await SystemTools.check(NATS_SERVER);
const TTL_MS = 1500;

async function withNats(
  body: (url: string, state: ClusterState) => Promise<void>,
): Promise<void> {
  const nats = await NatsCluster.start(tools.path("nats-server"), 1);
  let state: ClusterState | undefined;
  try {
    state = await ClusterState.open({ servers: nats.urls, replicas: 1 });
    await body(nats.urls[0]!, state);
  } finally {
    await state?.close();
    await nats.close();
  }
}

const open = (state: ClusterState, relayId: string) =>
  FleetDirectory.open(state.connection, {
    relayId,
    replicas: 1,
    relayTtlMs: TTL_MS,
  });

tools.test("relay.id: a second relay with the id of a live one fails at start, naming relay.id", async () => {
  await withNats(async (url) => {
    const config = {
      "relay.id": "twin",
      "relay.cluster.nats_url": url,
      "relay.cluster.replicas": 1,
      "relay.cluster.relay_ttl_seconds": TTL_MS / 1000,
    };
    const first = await startTestRelay({ config });
    try {
      const started = performance.now();
      await assert.rejects(
        startTestRelay({ config }),
        (error) => {
          assert.ok(error instanceof RelayError, String(error));
          assert.match(
            error.message,
            /config key relay\.id: twin is already running/,
          );
          return true;
        },
      );
      // Told by the live relay's next heartbeat (every third of the TTL).
      assert.ok(performance.now() - started < TTL_MS);
    } finally {
      await first.close();
    }
    // Stopped gracefully: its id is free at once.
    const started = performance.now();
    const again = await startTestRelay({ config });
    await again.close();
    console.log(
      `restarted after a graceful stop in ${
        (performance.now() - started).toFixed(0)
      } ms`,
    );
  });
});

tools.test("relay.id: after a crash the id is taken over once the old heartbeat is older than the TTL", async () => {
  await withNats(async (_url, state) => {
    const crashed = await open(state, "phoenix");
    await crashed.deviceChanged("stale-dev", () => ({
      device_id: "stale-dev",
      connection_id: "conn_stale",
      relay_address: "phoenix:50051",
      state: "ONLINE",
    }));
    await crashed.close(); // the heartbeat stops, its entries stay
    const observer = await open(state, "observer");
    assert.deepEqual(observer.remoteDevices().map((d) => d.device_id), [
      "stale-dev",
    ]);
    const started = performance.now();
    const restarted = await open(state, "phoenix");
    const waited = performance.now() - started;
    // The crashed run's entries went with it: not listed for the new one.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(observer.remoteDevices(), []);
    await observer.close({ release: true });
    await restarted.close({ release: true });
    assert.ok(waited > TTL_MS / 2, `took over after ${waited.toFixed(0)} ms`);
    assert.ok(
      waited < TTL_MS + 1000,
      `took over after ${waited.toFixed(0)} ms`,
    );
    // Released: claimed again at once.
    const quick = performance.now();
    const third = await open(state, "phoenix");
    await third.close({ release: true });
    assert.ok(performance.now() - quick < TTL_MS / 2);
  });
});

tools.test("relay.id: of two instances starting at once, one runs", async () => {
  await withNats(async (_url, state) => {
    const results = await Promise.allSettled([
      open(state, "gemini"),
      open(state, "gemini"),
    ]);
    const running = results.filter((r) => r.status === "fulfilled");
    assert.equal(
      running.length,
      1,
      JSON.stringify(results.map((r) => r.status)),
    );
    const failed = results.find((r) => r.status === "rejected");
    assert.match(
      String(failed?.reason),
      /relay\.id: gemini is already running/,
    );
    for (const r of running) await r.value.close({ release: true });
  });
});
