// `deno task bench` (quick profile, a few minutes) and `deno task bench:full`
// (10,000 devices, 1,000 streams): five scenarios, each over HTTP/2 and QUIC
// side by side, transparent gRPC calls against the envelope path, and a soak
// with both on one relay, with the relay, devices, controllers, the direct
// echo server and nginx each in processes of their own; and a relay cluster
// (three NATS nodes, three relay processes): cross-relay latency and a
// rolling restart. Prints a markdown table and writes the JSON result file.
import { loadavg, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { CleanupStack, closeOnSignals } from "../cleanup_stack.ts";
import { type ClusterSizes, runCluster } from "./cluster_scenario.ts";
import { type E2eOptions, runE2e } from "./e2e_scenario.ts";
import { sourceRevision } from "../source_revision.ts";
import {
  raiseUdpReceiveBuffers,
  udpReceiveBufferDrops,
} from "../udp_receive_buffers.ts";
import { activeOutcome, idleOutcome, stormOutcome } from "./fleet_outcomes.ts";
import { type FleetReport, markdownReport } from "./fleet_report.ts";
import type { ScenarioOutcome } from "./fleet_result.ts";
import {
  FLEET_TRANSPORTS,
  type FleetRun,
  type FleetSizes,
  runFleet,
  runStorm,
  type StormRun,
  type StormSizes,
} from "./fleet_scenarios.ts";
import { runHopLatency } from "./hop_latency.ts";
import { BENCH_RELAY_SETTINGS, FD_LIMIT } from "./relay_process.ts";
import { runSingleStream } from "./single_stream.ts";
import { soakOutcome } from "./soak_outcome.ts";
import { runSoak, type SoakSizes } from "./soak_scenario.ts";
import {
  runTransparent,
  type TransparentOptions,
} from "./transparent_scenario.ts";

interface Profile {
  fleet: FleetSizes;
  storm: StormSizes;
  hop: { count: number; warmup: number };
  stream: { durationMs: number; window: number; payloadKiB: number };
  e2e: Omit<E2eOptions, "progress">;
  soak: SoakSizes;
  transparent: Omit<TransparentOptions, "progress">;
  cluster: ClusterSizes;
}

/** The soak a user measured (20 sessions x 10/s, 100 devices), for 3 or 10 minutes. */
const soakSizes = (warmupMs: number, measuredMs: number): SoakSizes => ({
  devicesPerTransport: 50,
  sessionsPerTransport: 10,
  ratePerSession: 10,
  payloadBytes: 64,
  warmupMs,
  measuredMs,
  sampleIntervalMs: 5_000,
  idempotencyTtlSeconds: 20,
});

// Full: heartbeats every 15 s (the relay's default is 30 s) and 1 request/s
// per stream. With 5 s and 2/s the 2 shared cores saturate: the load
// generators take about 1.5 cores for 10,000 devices and 2,000 requests/s,
// the relay 0.5, and round trips queue for seconds.
// 500 devices per worker process: with more, a worker's own event loop lags
// and its devices notice a dead relay late, which would be charged to the
// relay.
const PROFILES: Record<string, Profile> = {
  quick: {
    fleet: {
      devices: 2_000,
      devicesPerProcess: 500,
      idleMs: 5_000,
      heartbeatSeconds: 5,
      streams: 200,
      streamsPerProcess: 100,
      ratePerStream: 2,
      payloadBytes: 64,
      activeMs: 5_000,
      activeWarmupMs: 2_000,
    },
    storm: { devices: 1_000, devicesPerProcess: 500, downMs: 1_000 },
    hop: { count: 1_000, warmup: 200 },
    stream: { durationMs: 4_000, window: 16, payloadKiB: 64 },
    e2e: { durationMs: 4_000, window: 64, payloads: [64, 1024] },
    soak: soakSizes(40_000, 140_000),
    transparent: {
      count: 1_000,
      warmup: 200,
      durationMs: 3_000,
      window: 16,
      payloadKiB: 64,
    },
    cluster: {
      latencyCount: 1_000,
      latencyWarmup: 100,
      devicesPerTransport: 15,
      pauseMs: 100,
      settleMs: 3_000,
    },
  },
  full: {
    fleet: {
      devices: 10_000,
      devicesPerProcess: 500,
      idleMs: 15_000,
      heartbeatSeconds: 15,
      streams: 1_000,
      streamsPerProcess: 250,
      ratePerStream: 1,
      payloadBytes: 64,
      activeMs: 15_000,
      activeWarmupMs: 3_000,
    },
    storm: { devices: 5_000, devicesPerProcess: 500, downMs: 1_000 },
    hop: { count: 5_000, warmup: 500 },
    stream: { durationMs: 12_000, window: 16, payloadKiB: 64 },
    e2e: { durationMs: 10_000, window: 64, payloads: [64, 1024] },
    soak: soakSizes(60_000, 540_000),
    transparent: {
      count: 5_000,
      warmup: 500,
      durationMs: 10_000,
      window: 16,
      payloadKiB: 64,
    },
    cluster: {
      latencyCount: 3_000,
      latencyWarmup: 300,
      devicesPerTransport: 50,
      pauseMs: 100,
      settleMs: 5_000,
    },
  },
};

const SCENARIOS = [
  "fleet",
  "hop",
  "stream",
  "e2e",
  "transparent",
  "storm",
  "soak",
  "cluster",
] as const;

async function environment(): Promise<Record<string, unknown>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  // Spawning a missing program throws at once rather than rejecting.
  const nginx = await Promise.resolve().then(() =>
    new Deno.Command("nginx", { args: ["-v"], stderr: "piped" }).output()
  ).then(
    (o) => new TextDecoder().decode(o.stderr).trim(),
    () => "not installed",
  );
  const lock = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.lock", import.meta.url)),
  );
  const grpcJs =
    Object.keys(lock.npm ?? {}).find((k) => k.startsWith("@grpc/grpc-js@")) ??
      "";
  return {
    date: new Date().toISOString(),
    revision: await sourceRevision(),
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memory_gib: (totalmem() / 2 ** 30).toFixed(1),
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    grpc_js: grpcJs.replace("@grpc/grpc-js@", ""),
    nginx,
    fd_limit_children: FD_LIMIT,
    loadavg_before: loadavg()[0]!.toFixed(2),
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      profile: { type: "string", default: "quick" },
      only: { type: "string" },
      out: { type: "string" },
      "heap-snapshots": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const profile = PROFILES[values.profile!];
  if (values.help || profile === undefined) {
    console.log(
      `usage: deno task bench [--profile quick|full] [--only ${
        SCENARIOS.join(",")
      }] [--out FILE] [--heap-snapshots DIR]`,
    );
    return values.help ? 0 : 2;
  }
  const only = new Set(values.only?.split(",") ?? SCENARIOS);
  const progress = (text: string) => console.error(`[bench] ${text}`);
  const cleanup = new CleanupStack();
  const removeSignalHandlers = closeOnSignals(cleanup);
  const started = performance.now();
  const scenarios: ScenarioOutcome[] = [];
  const failures: FleetReport["failures"] = [];
  const attempt = async (name: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (error) {
      progress(`${name} failed: ${(error as Error).message}`);
      failures.push({
        scenario: name,
        error: (error as Error).message.slice(0, 2000),
      });
    }
  };
  try {
    const env = await environment();
    const udpBuffer = await raiseUdpReceiveBuffers(cleanup);
    env.udp_receive_buffer_bytes = `${udpBuffer.bytes} (${udpBuffer.note})`;
    const dropsBefore = await udpReceiveBufferDrops();
    if (only.has("fleet")) {
      await attempt("idle fleet + active streams", async () => {
        const runs: FleetRun[] = [];
        for (const transport of FLEET_TRANSPORTS) {
          runs.push(await runFleet(transport, profile.fleet, progress));
        }
        scenarios.push(
          idleOutcome(runs, profile.fleet),
          activeOutcome(runs, profile.fleet),
        );
      });
    }
    if (only.has("hop")) {
      await attempt("hop latency", async () => {
        scenarios.push(await runHopLatency({ ...profile.hop, progress }));
      });
    }
    if (only.has("stream")) {
      await attempt("single stream", async () => {
        scenarios.push(await runSingleStream({ ...profile.stream, progress }));
      });
    }
    if (only.has("e2e")) {
      await attempt("e2e", async () => {
        scenarios.push(await runE2e({ ...profile.e2e, progress }));
      });
    }
    if (only.has("transparent")) {
      await attempt("transparent calls", async () => {
        scenarios.push(
          ...await runTransparent({ ...profile.transparent, progress }),
        );
      });
    }
    if (only.has("storm")) {
      await attempt("reconnect storm", async () => {
        const runs: StormRun[] = [];
        for (const transport of FLEET_TRANSPORTS) {
          runs.push(await runStorm(transport, profile.storm, progress));
        }
        scenarios.push(stormOutcome(runs, profile.storm));
      });
    }
    if (only.has("soak")) {
      await attempt("soak", async () => {
        scenarios.push(
          soakOutcome(
            await runSoak(profile.soak, {
              progress,
              ...(values["heap-snapshots"]
                ? { heapSnapshotDir: values["heap-snapshots"] }
                : {}),
            }),
            profile.soak,
          ),
        );
      });
    }
    if (only.has("cluster")) {
      await attempt("cluster", async () => {
        scenarios.push(...await runCluster(profile.cluster, progress));
      });
    }
    env.wall_s = ((performance.now() - started) / 1000).toFixed(0);
    env.loadavg_after = loadavg()[0]!.toFixed(2);
    env.udp_receive_buffer_drops = (await udpReceiveBufferDrops()) -
      dropsBefore;
    const report: FleetReport = {
      environment: env,
      profile: values.profile!,
      relay_settings: BENCH_RELAY_SETTINGS,
      scenarios,
      failures,
    };
    const out = values.out ??
      `bench/results/fleet-${values.profile}-${
        new Date().toISOString().replace(/[:.]/g, "-")
      }.json`;
    await Deno.mkdir(out.replace(/\/[^/]*$/, ""), { recursive: true });
    await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");
    console.log(markdownReport(report));
    console.log(`\nJSON result: ${out}`);
    return failures.length === 0 ? 0 : 1;
  } finally {
    await cleanup.closeAll();
    removeSignalHandlers();
  }
}

if (import.meta.main) Deno.exit(await main());
