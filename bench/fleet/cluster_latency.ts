// Cluster scenario, part 1: what a relay-to-relay hop adds. One controller
// on relay A calls echo devices (relay.v1 envelope path, 1 KiB, one request
// after another) on relay A and on relay B, over each device transport, in
// rotating rounds in one run; the added latency is cross minus same relay.
import { controllerConnector } from "../../mod.ts";
import { ControllerClient } from "../../src/sdk/controller_client.ts";
import { summarizeLatencies } from "../latency_stats.ts";
import { CountingDevice } from "./counting_device.ts";
import type { FigureRow, ScenarioOutcome } from "./fleet_result.ts";
import type { RelayCluster } from "./relay_cluster.ts";

export const CLUSTER_HOP_TARGET = { addedP50Ms: 0.5 };
const PAYLOAD_BYTES = 1024;
const TRANSPORTS = ["h2", "quic"] as const;
const PLACES = ["same", "cross"] as const;

export interface ClusterLatencyOptions {
  /** Measured round trips per target (transport x same/cross relay). */
  count: number;
  warmup: number;
  /** Rounds the count is split into (targets rotate each round). */
  rounds?: number;
  progress: (text: string) => void;
}

export async function runClusterLatency(
  cluster: RelayCluster,
  options: ClusterLatencyOptions,
): Promise<ScenarioOutcome> {
  const rounds = options.rounds ?? 5;
  const ids = TRANSPORTS.flatMap((transport) =>
    PLACES.map((place) => `lat-${transport}-${place}`)
  );
  const devices: CountingDevice[] = [];
  const controller = new ControllerClient({
    connector: controllerConnector(cluster.clientOptions("h2", [0])),
    token: cluster.adminToken,
    e2e: false,
  });
  const samples = new Map<string, number[]>(ids.map((id) => [id, []]));
  try {
    for (const id of ids) {
      devices.push(
        await CountingDevice.start({
          deviceId: id,
          token: cluster.credentials[id]!,
          // Each knows one relay: A (same as the controller's) or B.
          relays: cluster.clientOptions(
            id.includes("quic") ? "quic" : "h2",
            [id.endsWith("same") ? 0 : 1],
          ),
        }),
      );
    }
    const sessions = new Map(
      ids.map((id) => [id, controller.openSession(id)]),
    );
    const payload = new Uint8Array(PAYLOAD_BYTES);
    const perRound = Math.ceil(options.count / rounds);
    options.progress(
      `cluster latency: ${options.count} round trips per target`,
    );
    for (let round = 0; round < rounds + 1; round++) {
      // Round 0 warms up; then each round starts one target later.
      const order = ids.map((_, i) => ids[(i + round) % ids.length]!);
      for (const id of order) {
        const session = sessions.get(id)!;
        const calls = round === 0 ? options.warmup : perRound;
        for (let n = 0; n < calls; n++) {
          const started = performance.now();
          await session.call("echo", payload, { timeoutMs: 10_000 });
          if (round > 0) samples.get(id)!.push(performance.now() - started);
        }
      }
    }
  } finally {
    await controller.close();
    for (const device of devices) await device.close();
  }

  const summary = (transport: string, place: string) =>
    summarizeLatencies(samples.get(`lat-${transport}-${place}`)!);
  const row = (
    figure: string,
    value: (transport: string) => number,
    target?: { text: string; met: (v: number) => boolean },
  ): FigureRow => {
    const out: FigureRow = { figure, unit: "ms" };
    for (const transport of TRANSPORTS) {
      out[transport] = round3(value(transport));
    }
    if (target) {
      out.target = target.text;
      out.met = TRANSPORTS.every((transport) => target.met(value(transport)));
    }
    return out;
  };
  const added = (key: "p50Ms" | "p99Ms") => (transport: string) =>
    summary(transport, "cross")[key] - summary(transport, "same")[key];
  return {
    id: "cluster_latency",
    title:
      "Relay cluster: cross-relay added latency (1 KiB, sequential, controller on relay A)",
    rows: [
      row("round trip p50, device on A", (t) => summary(t, "same").p50Ms),
      row("round trip p50, device on B", (t) => summary(t, "cross").p50Ms),
      row("round trip p99, device on A", (t) => summary(t, "same").p99Ms),
      row("round trip p99, device on B", (t) => summary(t, "cross").p99Ms),
      row("added by the hop p50 (B − A)", added("p50Ms"), {
        text: `<= ${CLUSTER_HOP_TARGET.addedP50Ms} ms`,
        met: (v) => v <= CLUSTER_HOP_TARGET.addedP50Ms,
      }),
      row("added by the hop p99 (B − A)", added("p99Ms")),
    ],
    settings: {
      payload_bytes: PAYLOAD_BYTES,
      count_per_target: options.count,
      warmup_per_target: options.warmup,
      rounds,
      columns: "the device's transport; the controller is on HTTP/2",
      processes:
        "3 nats-server, 3 relays; controller and devices in the bench process",
    },
    notes: [],
  };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
