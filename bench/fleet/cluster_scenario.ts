// The cluster scenario (issue 17): three nats-server nodes and three relay
// processes (bench/fleet/relay_cluster.ts), then the cross-relay added
// latency (cluster_latency.ts) and a rolling restart under traffic
// (rolling_restart.ts) on that cluster. Needs nats-server: without it the
// scenario is skipped with a line saying so.
import { NATS_SERVER } from "../../test/system_tools.ts";
import { runClusterLatency } from "./cluster_latency.ts";
import type { ScenarioOutcome } from "./fleet_result.ts";
import { RelayCluster } from "./relay_cluster.ts";
import { rollingDeviceIds, runRollingRestart } from "./rolling_restart.ts";

export interface ClusterSizes {
  latencyCount: number;
  latencyWarmup: number;
  devicesPerTransport: number;
  pauseMs: number;
  settleMs: number;
}

/** Each relay's settings on top of the bench's (BENCH_RELAY_SETTINGS). */
const CLUSTER_RELAY_SETTINGS = {
  "relay.mqtt.enabled": false,
  "relay.heartbeat_interval_seconds": 5,
  "relay.cluster.drain_timeout_seconds": 10,
  "relay.shutdown_grace_seconds": 1,
};
/** A drain (10 s at most) and the shutdown after it. */
const STOP_TIMEOUT_MS = 20_000;

export async function runCluster(
  sizes: ClusterSizes,
  progress: (text: string) => void,
): Promise<ScenarioOutcome[]> {
  const found = await NATS_SERVER.find();
  if (!found.ok) {
    const line = `skipped: ${found.reason} (apt-get install nats-server)`;
    progress(`cluster: ${line}`);
    return [{
      id: "cluster",
      title: "Relay cluster",
      rows: [],
      settings: {},
      notes: [line],
    }];
  }
  progress("cluster: starting 3 NATS nodes and 3 relays");
  const cluster = await RelayCluster.start(found.paths["nats-server"]!, {
    config: CLUSTER_RELAY_SETTINGS,
    deviceIds: [
      ...["h2", "quic"].flatMap((t) =>
        ["same", "cross"].map((p) => `lat-${t}-${p}`)
      ),
      ...rollingDeviceIds(sizes.devicesPerTransport),
    ],
    stopTimeoutMs: STOP_TIMEOUT_MS,
  });
  try {
    const latency = await runClusterLatency(cluster, {
      count: sizes.latencyCount,
      warmup: sizes.latencyWarmup,
      progress,
    });
    const rolling = await runRollingRestart(cluster, {
      devicesPerTransport: sizes.devicesPerTransport,
      pauseMs: sizes.pauseMs,
      settleMs: sizes.settleMs,
      progress,
    });
    for (const outcome of [latency, rolling]) {
      outcome.settings.relay_settings = CLUSTER_RELAY_SETTINGS;
    }
    return [latency, rolling];
  } finally {
    await cluster.close();
  }
}
