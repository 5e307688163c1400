// Turns the soak run into report rows: traffic by the controllers' transport,
// memory relay-wide (the "both" column), with targets.
import type { FigureRow, ScenarioOutcome } from "./fleet_result.ts";
import { growthMb, type MemoryArea, slopeMbPerMinute } from "./memory_trend.ts";
import {
  soakRelaySettings,
  type SoakRun,
  type SoakSizes,
  type SoakTraffic,
} from "./soak_scenario.ts";

const MB = 1e6;

/** After warm-up the relay's RSS holds its level: a few MB over minutes at most. */
export const SOAK_TARGETS = { rssSlopeMbPerMinute: 1 };

interface TrafficFigure {
  figure: string;
  value: (traffic: SoakTraffic) => number;
  /** "0": met when no request of either transport counts. */
  mustBeZero?: boolean;
}

/** A count by the controllers' transport, and their sum. */
function trafficRow(run: SoakRun, spec: TrafficFigure): FigureRow {
  const h2 = spec.value(run.traffic.h2);
  const quic = spec.value(run.traffic.quic);
  const both = h2 + quic;
  return {
    figure: spec.figure,
    unit: "",
    h2,
    quic,
    both,
    ...(spec.mustBeZero ? { target: "0", met: both === 0 } : {}),
  };
}

function p99Row(run: SoakRun): FigureRow {
  return {
    figure: "round trip p99",
    unit: "ms",
    h2: run.traffic.h2.latency.p99Ms,
    quic: run.traffic.quic.latency.p99Ms,
  };
}

function failed(traffic: SoakTraffic): number {
  return Object.values(traffic.errors).reduce((sum, n) => sum + n, 0);
}

export function soakOutcome(run: SoakRun, sizes: SoakSizes): ScenarioOutcome {
  const after = run.warmupSeconds;
  const memoryRow = (
    figure: string,
    area: MemoryArea,
    pick: "slope" | "growth" | "end",
  ): FigureRow => ({
    figure,
    unit: pick === "slope" ? "MB/min" : "MB",
    both: pick === "slope"
      ? slopeMbPerMinute(run.samples, area, after)
      : pick === "growth"
      ? growthMb(run.samples, area, after)
      : (run.samples.at(-1)?.[area] ?? NaN) / MB,
  });
  const rssSlope = memoryRow(
    "relay RSS slope after warm-up",
    "rssBytes",
    "slope",
  );
  const limit = SOAK_TARGETS.rssSlopeMbPerMinute;
  const errorNotes = (["h2", "quic"] as const)
    .filter((t) => failed(run.traffic[t]) > 0)
    .map((t) =>
      `${t} controllers' errors: ${JSON.stringify(run.traffic[t].errors)}`
    );
  return {
    id: "soak",
    title: `6. Soak: ${
      2 * sizes.devicesPerTransport
    } devices (half h2, half QUIC), ${
      2 * sizes.sessionsPerTransport
    } sessions x ${sizes.ratePerSession}/s for ${
      (sizes.warmupMs + sizes.measuredMs) / 60_000
    } min`,
    rows: [
      trafficRow(run, { figure: "requests sent", value: (t) => t.sent }),
      trafficRow(run, {
        figure: "answered with their echo",
        value: (t) => t.ok,
      }),
      trafficRow(run, { figure: "failed", value: failed, mustBeZero: true }),
      trafficRow(run, {
        figure: "wrong answers",
        value: (t) => t.wrong,
        mustBeZero: true,
      }),
      p99Row(run),
      {
        ...rssSlope,
        target: `<= ${limit} MB/min`,
        met: rssSlope.both! <= limit,
      },
      memoryRow("relay RSS growth after warm-up", "rssBytes", "growth"),
      memoryRow("relay RSS at the end", "rssBytes", "end"),
      memoryRow(
        "relay heap used slope after warm-up",
        "heapUsedBytes",
        "slope",
      ),
      memoryRow("relay heap used at the end", "heapUsedBytes", "end"),
      memoryRow("relay external slope after warm-up", "externalBytes", "slope"),
      memoryRow("relay external at the end", "externalBytes", "end"),
      {
        figure: "relay CPU after warm-up",
        unit: "cores",
        both: run.relayCores,
      },
      { figure: "device reconnects", unit: "", both: run.deviceReconnects },
    ],
    settings: {
      devices_per_transport: sizes.devicesPerTransport,
      sessions_per_transport: sizes.sessionsPerTransport,
      rate_per_session: sizes.ratePerSession,
      payload_bytes: sizes.payloadBytes,
      warmup_s: sizes.warmupMs / 1000,
      measured_s: sizes.measuredMs / 1000,
      sample_interval_s: sizes.sampleIntervalMs / 1000,
      relay: soakRelaySettings(sizes),
    },
    notes: [
      "h2 and quic columns: by the controllers' transport; each reaches devices on both. both: the relay as a whole.",
      "Sampled every few seconds after a full garbage collection (through the relay's inspector): the figures are what the relay holds on to, not garbage waiting for V8's next collection. Slopes: least squares over the samples after warm-up; growth: last minus first of them.",
      ...errorNotes,
    ],
    series: {
      memory_samples: run.samples.map((s) => ({
        at_s: Math.round(s.atSeconds * 10) / 10,
        rss_mb: Math.round(s.rssBytes / 1e4) / 100,
        heap_used_mb: Math.round(s.heapUsedBytes / 1e4) / 100,
        external_mb: Math.round(s.externalBytes / 1e4) / 100,
      })),
      warmup_s: run.warmupSeconds,
    },
  };
}
