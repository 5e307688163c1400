// Scenarios 1 (idle fleet), 2 (active controller streams on that fleet) and
// 5 (reconnect storm), each run over h2 and over QUIC against a relay
// process of its own; devices and controllers run in worker processes.
import { bucketQuantile, summarizeLatencies } from "../latency_stats.ts";
import { DeviceFleet, deviceIds, type FleetTransport } from "./device_fleet.ts";
import { coresUsed, watchProcess } from "./process_stats.ts";
import { udpReceiveBufferDrops } from "../udp_receive_buffers.ts";
import { RelayProcess } from "./relay_process.ts";
import { WorkerProcess } from "./worker_process.ts";

export const FLEET_TRANSPORTS: readonly FleetTransport[] = ["h2", "quic"];

export interface FleetSizes {
  devices: number;
  devicesPerProcess: number;
  /** Idle measurement window after the ramp, in ms. */
  idleMs: number;
  heartbeatSeconds: number;
  streams: number;
  streamsPerProcess: number;
  /** Requests per second on each controller stream. */
  ratePerStream: number;
  payloadBytes: number;
  activeMs: number;
  activeWarmupMs: number;
}

export interface FleetRun {
  transport: FleetTransport;
  /** Devices registered when the ramp ended (all, or those in by its timeout). */
  connected: number;
  /** NaN when not all connected within the ramp timeout. */
  connectAllSeconds: number;
  /** Why the ramp stopped short, if it did. */
  rampShortfall?: string;
  baselineRssBytes: number;
  rssBytes: number;
  heapUsedBytes: number;
  bytesPerConnection: number;
  idleCores: number;
  active: {
    offeredPerSecond: number;
    achievedPerSecond: number;
    errors: Record<string, number>;
    relayCores: number;
    /** p99 of the relay's event-loop lag, as its histogram bucket's bound. */
    relayLoopLagP99Ms: number;
    /** UDP datagrams the host dropped for full receive buffers meanwhile. */
    udpDrops: number;
    latency: ReturnType<typeof summarizeLatencies>;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ramp, idle and active scenarios over one transport. */
export async function runFleet(
  transport: FleetTransport,
  sizes: FleetSizes,
  progress: (text: string) => void,
): Promise<FleetRun> {
  const relay = await RelayProcess.start({
    deviceIds: deviceIds(sizes.devices),
    config: { "relay.heartbeat_interval_seconds": sizes.heartbeatSeconds },
  });
  let fleet: DeviceFleet | undefined;
  try {
    await sleep(1000); // let the fresh process settle before the baseline
    const baseline = await relay.sample();
    progress(`${transport}: ramping ${sizes.devices} devices`);
    const rampStarted = performance.now();
    fleet = DeviceFleet.start({
      relay,
      transport,
      devices: sizes.devices,
      devicesPerProcess: sizes.devicesPerProcess,
    });
    // A ramp that stops short is reported, and the idle and active
    // scenarios still run on the devices that made it.
    let rampShortfall: string | undefined;
    await fleet.waitConnected(180_000).catch((error) =>
      rampShortfall = (error as Error).message
    );
    const connected = fleet.connected();
    const connectAllSeconds = rampShortfall === undefined
      ? (performance.now() - rampStarted) / 1000
      : NaN;
    progress(
      rampShortfall ??
        `${transport}: all connected in ${
          connectAllSeconds.toFixed(1)
        } s; idle`,
    );
    await sleep(2000);
    const idleFrom = await relay.sample();
    await sleep(sizes.idleMs);
    const idleTo = await relay.sample();
    const memory = await relay.memory();
    const active = await runActive(relay, transport, sizes, progress);
    return {
      transport,
      connected,
      connectAllSeconds,
      ...(rampShortfall ? { rampShortfall } : {}),
      baselineRssBytes: baseline.rssBytes,
      rssBytes: idleTo.rssBytes,
      heapUsedBytes: memory.heap_used ?? NaN,
      bytesPerConnection: (idleTo.rssBytes - baseline.rssBytes) / connected,
      idleCores: coresUsed(idleFrom, idleTo),
      active,
    };
  } finally {
    await fleet?.close();
    await relay.close();
  }
}

/**
 * How late the relay's event loop ran: it tells the relay's share of the
 * round-trip tail from the load generators' on the same cores.
 */
const LOOP_LAG_METRIC = "relay_event_loop_lag_seconds";

async function runActive(
  relay: RelayProcess,
  transport: FleetTransport,
  sizes: FleetSizes,
  progress: (text: string) => void,
): Promise<FleetRun["active"]> {
  progress(
    `${transport}: ${sizes.streams} controller streams at ${sizes.ratePerStream}/s each`,
  );
  const tokenFile = await Deno.makeTempFile({ prefix: "bench-token-" });
  await Deno.writeTextFile(tokenFile, relay.endpoints.adminToken);
  const ca = relay.endpoints.caFile;
  const workers: WorkerProcess[] = [];
  try {
    // Streams go to distinct devices, spread over the fleet.
    const stride = Math.max(1, Math.floor(sizes.devices / sizes.streams));
    for (let from = 0; from < sizes.streams; from += sizes.streamsPerProcess) {
      workers.push(
        new WorkerProcess("./controller_worker.ts", [
          `--transport=${transport}`,
          `--grpc=${relay.endpoints.grpcAddress}`,
          `--quic=${relay.endpoints.quicAddress}`,
          `--ca=${ca}`,
          `--token-file=${tokenFile}`,
          `--from=${from * stride}`,
          `--stride=${stride}`,
          `--count=${Math.min(sizes.streamsPerProcess, sizes.streams - from)}`,
          `--rate=${sizes.ratePerStream}`,
          `--payload=${sizes.payloadBytes}`,
          `--duration-ms=${sizes.activeMs}`,
          `--warmup-ms=${sizes.activeWarmupMs}`,
        ]),
      );
    }
    await sleep(sizes.activeWarmupMs);
    const from = await relay.sample();
    const lagFrom = await relay.histogram(LOOP_LAG_METRIC);
    const dropsFrom = await udpReceiveBufferDrops();
    const results = await Promise.all(
      workers.map((worker) =>
        worker.waitFor(
          (line) => line.type === "result",
          sizes.activeWarmupMs + sizes.activeMs + 60_000,
          "controller results",
        )
      ),
    );
    const to = await relay.sample();
    const lagTo = await relay.histogram(LOOP_LAG_METRIC);
    const udpDrops = (await udpReceiveBufferDrops()) - dropsFrom;
    const latencies = results.flatMap((r) => r.latenciesMs as number[]);
    const errors: Record<string, number> = {};
    for (const result of results) {
      for (const [code, n] of Object.entries(result.errors as object)) {
        errors[code] = (errors[code] ?? 0) + Number(n);
      }
      // Answers that were not their request's echo.
      if (Number(result.wrong) > 0) {
        errors.WRONG_ANSWER = (errors.WRONG_ANSWER ?? 0) + Number(result.wrong);
      }
    }
    const seconds = sizes.activeMs / 1000;
    return {
      offeredPerSecond: sizes.streams * sizes.ratePerStream,
      achievedPerSecond: latencies.length / seconds,
      errors,
      relayCores: coresUsed(from, to),
      relayLoopLagP99Ms: bucketQuantile(lagFrom, lagTo, 0.99) * 1000,
      udpDrops,
      latency: summarizeLatencies(latencies),
    };
  } finally {
    await Promise.all(workers.map((worker) => worker.close()));
    await Deno.remove(tokenFile);
  }
}

export interface StormSizes {
  devices: number;
  devicesPerProcess: number;
  /** How long the relay stays down between kill and restart. */
  downMs: number;
}

export interface StormRun {
  transport: FleetTransport;
  /** From the restarted relay answering /health to the last re-register. */
  allBackSeconds: number;
  /** From the SIGKILL to the last re-register. */
  sinceKillSeconds: number;
  /** First to last re-register, and the middle 80 %. */
  spreadSeconds: number;
  p10ToP90Seconds: number;
  peakCores: number;
  /** UDP datagrams the host dropped for full receive buffers, kill to last back. */
  udpDrops: number;
  back: number;
  /** Why reconnect attempts failed between the kill and the last one back. */
  errors: Record<string, number>;
}

/**
 * A killed relay sends no QUIC CONNECTION_CLOSE and its successor cannot
 * reset the old connections, so QUIC devices notice the loss when their
 * relay stays silent for two heartbeat intervals (+ 2 s): 12 s with a 5 s
 * interval. A 2 s interval detects sooner, but with 5,000 devices on these
 * 2 shared cores the heartbeats alone saturate the machine and answers come
 * late enough for devices to give up on a live relay.
 */
export const STORM_RELAY_SETTINGS = { "relay.heartbeat_interval_seconds": 5 };

/** Scenario 5: a connected fleet, the relay SIGKILLed and restarted. */
export async function runStorm(
  transport: FleetTransport,
  sizes: StormSizes,
  progress: (text: string) => void,
): Promise<StormRun> {
  const relay = await RelayProcess.start({
    deviceIds: deviceIds(sizes.devices),
    config: STORM_RELAY_SETTINGS,
  });
  let fleet: DeviceFleet | undefined;
  try {
    fleet = DeviceFleet.start({ relay, transport, ...sizes });
    await fleet.waitConnected(180_000);
    await sleep(1000);
    progress(
      `${transport}: storm: killing the relay under ${sizes.devices} devices`,
    );
    const connectsBefore = fleet.connects();
    const errorsBefore = fleet.errors();
    const dropsFrom = await udpReceiveBufferDrops();
    const killedAt = Date.now();
    await relay.kill();
    await sleep(sizes.downMs);
    await relay.restart();
    const readyAt = Date.now();
    const watch = watchProcess(relay.pid);
    let timedOut = "";
    await fleet.waitConnected(60_000, connectsBefore + sizes.devices).catch(
      (error) => timedOut = error.message,
    );
    const peak = await watch.stop();
    const udpDrops = (await udpReceiveBufferDrops()) - dropsFrom;
    const times = (await fleet.connectTimes()).filter((t) => t > killedAt)
      .sort((a, b) => a - b);
    const at = (p: number) =>
      times[Math.min(times.length - 1, Math.floor(p * times.length))]!;
    if (timedOut) progress(`${transport}: storm: ${timedOut}`);

    return {
      transport,
      back: times.length,
      allBackSeconds: (times.at(-1)! - readyAt) / 1000,
      sinceKillSeconds: (times.at(-1)! - killedAt) / 1000,
      spreadSeconds: (times.at(-1)! - times[0]!) / 1000,
      p10ToP90Seconds: (at(0.9) - at(0.1)) / 1000,
      peakCores: peak.peakCores,
      udpDrops,
      errors: Object.fromEntries(
        Object.entries(fleet.errors())
          .map(([reason, n]) => [reason, n - (errorsBefore[reason] ?? 0)])
          .filter(([, n]) => Number(n) > 0),
      ),
    };
  } finally {
    await fleet?.close();
    await relay.close();
  }
}
