// Scenario 6, the soak: one relay with devices on both transports and steady
// controller traffic on both for minutes, its memory sampled all along.
// After warm-up a relay whose state tracks the work in progress holds a
// level; state kept per request past its use (caches that never expire,
// maps keyed by sequence number or connection) shows as a slope.
import { summarizeLatencies } from "../latency_stats.ts";
import { DeviceFleet, deviceIds, type FleetTransport } from "./device_fleet.ts";
import { FLEET_TRANSPORTS } from "./fleet_scenarios.ts";
import {
  type MemorySample,
  type MemorySampler,
  sampleMemory,
} from "./memory_trend.ts";
import { coresUsed } from "./process_stats.ts";
import { RelayProcess } from "./relay_process.ts";
import { RelayProfiler } from "./relay_profiler.ts";
import { WorkerProcess } from "./worker_process.ts";

export interface SoakSizes {
  /** Devices on each transport, all on the one relay. */
  devicesPerTransport: number;
  /** Controller sessions (ConnectToDevice streams) on each transport. */
  sessionsPerTransport: number;
  /** Requests per second on each session. */
  ratePerSession: number;
  payloadBytes: number;
  /** Traffic before the memory trend counts: caches fill, code warms up. */
  warmupMs: number;
  /** Traffic after warm-up, over which the trend is taken. */
  measuredMs: number;
  sampleIntervalMs: number;
  /** relay.idempotency.ttl_seconds: short, so a steady state comes early. */
  idempotencyTtlSeconds: number;
}

export interface SoakTraffic {
  /** Requests sent over the whole soak, warm-up included. */
  sent: number;
  /** Answered with their own echo. */
  ok: number;
  /** Answered, but not with their request's echo. */
  wrong: number;
  /** Failed, by code. */
  errors: Record<string, number>;
  latency: ReturnType<typeof summarizeLatencies>;
}

export interface SoakRun {
  /** By the controllers' transport. */
  traffic: Record<FleetTransport, SoakTraffic>;
  samples: MemorySample[];
  /** Where the samples' warm-up ends (seconds from the first sample). */
  warmupSeconds: number;
  relayCores: number;
  /** Device connects beyond the first one each (drops the soak caused). */
  deviceReconnects: number;
}

export function soakRelaySettings(sizes: SoakSizes): Record<string, number> {
  return { "relay.idempotency.ttl_seconds": sizes.idempotencyTtlSeconds };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SoakOptions {
  progress: (text: string) => void;
  /** Writes heap snapshots of the relay at the end of warm-up and at the end (for heap_diff.ts). */
  heapSnapshotDir?: string;
}

export async function runSoak(
  sizes: SoakSizes,
  options: SoakOptions,
): Promise<SoakRun> {
  const { progress, heapSnapshotDir } = options;
  const perTransport = sizes.devicesPerTransport;
  const relay = await RelayProcess.start({
    deviceIds: deviceIds(2 * perTransport),
    config: soakRelaySettings(sizes),
    inspect: true, // to collect garbage before each sample
  });
  let profiler: RelayProfiler | undefined;
  let sampler: MemorySampler | undefined;
  const fleets: DeviceFleet[] = [];
  const controllers: WorkerProcess[] = [];
  const tokenFile = await Deno.makeTempFile({ prefix: "bench-token-" });
  try {
    // Devices 0..n-1 on h2, n..2n-1 on QUIC.
    FLEET_TRANSPORTS.forEach((transport, i) =>
      fleets.push(DeviceFleet.start({
        relay,
        transport,
        devices: perTransport,
        devicesPerProcess: perTransport,
        firstDevice: i * perTransport,
      }))
    );
    await Promise.all(fleets.map((fleet) => fleet.waitConnected(120_000)));
    const connectsBefore = sum(fleets.map((fleet) => fleet.connects()));
    const seconds = (sizes.warmupMs + sizes.measuredMs) / 1000;
    progress(
      `soak: ${2 * perTransport} devices, ${
        2 * sizes.sessionsPerTransport
      } sessions x ${sizes.ratePerSession}/s for ${seconds} s`,
    );
    await Deno.writeTextFile(tokenFile, relay.endpoints.adminToken);
    profiler = await RelayProfiler.attach(relay.inspectPort!);
    sampler = sampleMemory(relay, {
      intervalMs: sizes.sampleIntervalMs,
      beforeSample: () => profiler!.collectGarbage(),
    });
    // Each transport's sessions reach devices of both fleets, interleaved.
    const stride = Math.max(
      1,
      Math.floor(2 * perTransport / sizes.sessionsPerTransport),
    );
    FLEET_TRANSPORTS.forEach((transport, i) =>
      controllers.push(
        new WorkerProcess("./controller_worker.ts", [
          `--transport=${transport}`,
          `--grpc=${relay.endpoints.grpcAddress}`,
          `--quic=${relay.endpoints.quicAddress}`,
          `--ca=${relay.endpoints.caFile}`,
          `--token-file=${tokenFile}`,
          `--from=${i * Math.floor(stride / 2)}`,
          `--stride=${stride}`,
          `--count=${sizes.sessionsPerTransport}`,
          `--rate=${sizes.ratePerSession}`,
          `--payload=${sizes.payloadBytes}`,
          `--duration-ms=${sizes.warmupMs + sizes.measuredMs}`,
          "--warmup-ms=0",
        ], { name: `soak ${transport} controllers` }),
      )
    );
    await sleep(sizes.warmupMs);
    if (heapSnapshotDir) {
      await profiler.heapSnapshot(`${heapSnapshotDir}/soak-warm.heapsnapshot`);
    }
    const cpuFrom = await relay.sample();
    const results = await Promise.all(
      controllers.map((worker) =>
        worker.waitFor(
          (line) => line.type === "result",
          sizes.measuredMs + 60_000,
          "soak results",
        )
      ),
    );
    const cpuTo = await relay.sample();
    const samples = await sampler.stop();
    if (heapSnapshotDir) {
      await profiler.heapSnapshot(`${heapSnapshotDir}/soak-end.heapsnapshot`);
      progress(`soak: heap snapshots in ${heapSnapshotDir}`);
    }
    const traffic = Object.fromEntries(
      FLEET_TRANSPORTS.map((transport, i) => [
        transport,
        soakTraffic(results[i]!),
      ]),
    ) as Record<FleetTransport, SoakTraffic>;
    return {
      traffic,
      samples,
      warmupSeconds: sizes.warmupMs / 1000,
      relayCores: coresUsed(cpuFrom, cpuTo),
      deviceReconnects: sum(fleets.map((fleet) => fleet.connects())) -
        connectsBefore,
    };
  } finally {
    // Stopped already unless the soak failed; its error is the one to report.
    await sampler?.stop().catch(() => undefined);
    profiler?.close();
    await Promise.all(controllers.map((worker) => worker.close()));
    await Promise.all(fleets.map((fleet) => fleet.close()));
    await relay.close();
    await Deno.remove(tokenFile);
  }
}

function soakTraffic(result: Record<string, unknown>): SoakTraffic {
  const errors: Record<string, number> = {};
  for (const [code, n] of Object.entries(result.errors as object)) {
    errors[code] = Number(n);
  }
  return {
    sent: Number(result.scheduled),
    ok: Number(result.ok),
    wrong: Number(result.wrong),
    errors,
    latency: summarizeLatencies(result.latenciesMs as number[]),
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
