// Turns the fleet runs (one per transport) into report rows with targets.
import { RAMP_CONCURRENCY } from "./device_fleet.ts";
import type { FigureRow, ScenarioOutcome } from "./fleet_result.ts";
import {
  type FleetRun,
  type FleetSizes,
  STORM_RELAY_SETTINGS,
  type StormRun,
  type StormSizes,
} from "./fleet_scenarios.ts";

const MB = 1e6;

/** Targets of the issue; the RSS ones scale with the fleet size measured. */
export const FLEET_TARGETS = {
  rssBytesAt10k: { h2: 600 * MB, quic: 1500 * MB },
  activeP99Ms: 10,
  stormAllBackSeconds: 10,
};

function row(
  figure: string,
  unit: string,
  runs: readonly { transport: string }[],
  value: (run: never) => number,
  check?: { target: string; ok: (value: number, transport: string) => boolean },
): FigureRow {
  const values: Record<string, number> = {};
  for (const run of runs) values[run.transport] = value(run as never);
  return {
    figure,
    unit,
    ...values,
    ...(check
      ? {
        target: check.target,
        met: Object.entries(values).every(([t, v]) => check.ok(v, t)),
      }
      : {}),
  };
}

export function idleOutcome(
  runs: FleetRun[],
  sizes: FleetSizes,
): ScenarioOutcome {
  const scale = sizes.devices / 10_000;
  const limit = (transport: string) =>
    FLEET_TARGETS.rssBytesAt10k[transport as "h2" | "quic"] * scale;
  return {
    id: "idle_fleet",
    title: `1. Idle fleet: ${sizes.devices.toLocaleString("en-US")} devices`,
    rows: [
      row("devices connected", "", runs, (r: FleetRun) => r.connected),
      row(
        "time to connect all",
        "s",
        runs,
        (r: FleetRun) => r.connectAllSeconds,
      ),
      row("relay RSS", "MB", runs, (r: FleetRun) => r.rssBytes / MB, {
        target: `<= ${(600 * scale).toFixed(0)} MB h2, <= ${
          (1500 * scale).toFixed(0)
        } MB quic`,
        ok: (v, t) => v * MB <= limit(t),
      }),
      row("relay heap used", "MB", runs, (r: FleetRun) => r.heapUsedBytes / MB),
      row(
        "RSS per connection",
        "KiB",
        runs,
        (r: FleetRun) => r.bytesPerConnection / 1024,
      ),
      row("relay CPU while idle", "cores", runs, (r: FleetRun) => r.idleCores),
    ],
    settings: {
      devices: sizes.devices,
      devices_per_process: sizes.devicesPerProcess,
      ramp_concurrency_per_process: RAMP_CONCURRENCY,
      heartbeat_interval_seconds: sizes.heartbeatSeconds,
      idle_window_s: sizes.idleMs / 1000,
    },
    notes: [
      "RSS per connection: (RSS idle - RSS before the ramp) / devices connected.",
      ...runs.filter((r) => r.rampShortfall).map((r) =>
        `${r.transport}: ${r.rampShortfall}`
      ),
    ],
  };
}

export function activeOutcome(
  runs: FleetRun[],
  sizes: FleetSizes,
): ScenarioOutcome {
  const notes = runs.filter((r) => Object.keys(r.active.errors).length > 0)
    .map((r) => `${r.transport} errors: ${JSON.stringify(r.active.errors)}`);
  return {
    id: "active_streams",
    title: `2. Active streams: ${
      sizes.streams.toLocaleString("en-US")
    } controller streams x ${sizes.ratePerStream}/s`,
    rows: [
      row("offered", "req/s", runs, (r: FleetRun) => r.active.offeredPerSecond),
      row(
        "achieved",
        "req/s",
        runs,
        (r: FleetRun) => r.active.achievedPerSecond,
      ),
      row("relay CPU", "cores", runs, (r: FleetRun) => r.active.relayCores),
      row(
        "round trip p50",
        "ms",
        runs,
        (r: FleetRun) => r.active.latency.p50Ms,
      ),
      row(
        "round trip p90",
        "ms",
        runs,
        (r: FleetRun) => r.active.latency.p90Ms,
      ),
      row(
        "round trip p99",
        "ms",
        runs,
        (r: FleetRun) => r.active.latency.p99Ms,
        {
          target: `<= ${FLEET_TARGETS.activeP99Ms} ms`,
          ok: (v) => v <= FLEET_TARGETS.activeP99Ms,
        },
      ),
      row(
        "round trip max",
        "ms",
        runs,
        (r: FleetRun) => r.active.latency.maxMs,
      ),
      row(
        "relay event-loop lag p99, bucket bound",
        "ms",
        runs,
        (r: FleetRun) => r.active.relayLoopLagP99Ms,
      ),
      row(
        "UDP datagrams dropped, receive buffers full",
        "",
        runs,
        (r: FleetRun) => r.active.udpDrops,
      ),
    ],
    settings: {
      streams: sizes.streams,
      streams_per_process: sizes.streamsPerProcess,
      streams_per_connection: 50,
      rate_per_stream: sizes.ratePerStream,
      payload_bytes: sizes.payloadBytes,
      measured_s: sizes.activeMs / 1000,
      warmup_s: sizes.activeWarmupMs / 1000,
    },
    notes: [
      "Open loop: each round trip is timed from its scheduled send time.",
      "Relay event-loop lag: how late the relay ran its 100 ms timer (relay_event_loop_lag_seconds), i.e. how long work queued inside the relay; the rest of a round trip's tail is the load generators' on the same cores.",
      ...notes,
    ],
  };
}

export function stormOutcome(
  runs: StormRun[],
  sizes: StormSizes,
): ScenarioOutcome {
  return {
    id: "reconnect_storm",
    title: `5. Reconnect storm: ${
      sizes.devices.toLocaleString("en-US")
    } devices, relay SIGKILLed and restarted`,
    rows: [
      row("devices back", "", runs, (r: StormRun) => r.back),
      row(
        "all back after restart",
        "s",
        runs,
        (r: StormRun) => r.allBackSeconds,
        {
          target: `<= ${FLEET_TARGETS.stormAllBackSeconds} s`,
          ok: (v) => v <= FLEET_TARGETS.stormAllBackSeconds,
        },
      ),
      row(
        "all back after kill",
        "s",
        runs,
        (r: StormRun) => r.sinceKillSeconds,
      ),
      row("spread first..last", "s", runs, (r: StormRun) => r.spreadSeconds),
      row("spread p10..p90", "s", runs, (r: StormRun) => r.p10ToP90Seconds),
      row("peak relay CPU", "cores", runs, (r: StormRun) => r.peakCores),
      row(
        "UDP datagrams dropped, receive buffers full",
        "",
        runs,
        (r: StormRun) => r.udpDrops,
      ),
    ],
    settings: {
      devices: sizes.devices,
      devices_per_process: sizes.devicesPerProcess,
      relay_down_ms: sizes.downMs,
      heartbeat_interval_seconds:
        STORM_RELAY_SETTINGS["relay.heartbeat_interval_seconds"],
      agent_backoff:
        "full jitter, 500 ms doubling to 30 s, 2 s while refused (SDK defaults)",
    },
    notes: runs.map((r) =>
      `${r.transport} attempts failed with: ${JSON.stringify(r.errors)}`
    ),
  };
}
