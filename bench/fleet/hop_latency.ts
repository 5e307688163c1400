// Scenario 3, hop latency: one controller, one device, 1 KiB requests one
// after the other. Round trips through the relay (h2, QUIC) next to the same
// client process calling the echo server directly and through nginx, all
// measured in one client process in rotating rounds; what the relay adds is
// relay minus direct from that same run.
import type { FigureRow, ScenarioOutcome } from "./fleet_result.ts";
import {
  type EchoTarget,
  runEchoClient,
  startEchoTargets,
} from "./echo_targets.ts";

export const HOP_TARGETS = { addedP50Ms: 0.5, addedP99Ms: 2 };
const PAYLOAD_BYTES = 1024;

export interface HopLatencyOptions {
  /** Measured round trips per target. */
  count: number;
  /** Unmeasured round trips per target first. */
  warmup: number;
  /** Rounds the count is split into (targets rotate each round; default 5). */
  rounds?: number;
  relayConfig?: Record<string, unknown>;
  progress: (text: string) => void;
}

export async function runHopLatency(
  options: HopLatencyOptions,
): Promise<ScenarioOutcome> {
  const rounds = options.rounds ?? 5;
  const notes: string[] = [];
  const targets = await startEchoTargets(
    (text) => options.progress(`hop latency: ${text}`),
    options.relayConfig ? { relayConfig: options.relayConfig } : {},
  );
  let run;
  try {
    run = await runEchoClient(
      targets,
      [
        ...["--mode", "sequential", "--payload", String(PAYLOAD_BYTES)],
        ...[
          "--count",
          String(options.count),
          "--warmup",
          String(options.warmup),
        ],
        ...["--rounds", String(rounds)],
      ],
      // Generous: a round trip is ~1 ms; a stall shows as a timeout, not a hang.
      120_000 + (options.count + options.warmup) * 4 * 20,
      (text) => options.progress(`hop latency: ${text}`),
    );
  } finally {
    await targets.close();
  }
  for (const [target, reason] of Object.entries(targets.missing)) {
    notes.push(`${target}: not measured (${reason})`);
  }
  for (const [target, reason] of Object.entries(run.errors)) {
    notes.push(`${target}: failed (${reason})`);
  }

  const latency = (target: EchoTarget) => run.results[target]?.latency;
  const figure = (
    label: string,
    key: "p50Ms" | "p90Ms" | "p99Ms" | "maxMs",
  ): FigureRow => {
    const row: FigureRow = { figure: `round trip ${label}`, unit: "ms" };
    for (const target of ["h2", "quic", "direct", "nginx"] as const) {
      const value = latency(target)?.[key];
      if (value !== undefined) row[target] = round3(value);
    }
    return row;
  };
  const added = (
    label: string,
    key: "p50Ms" | "p99Ms",
    limitMs: number,
  ): FigureRow => {
    const row: FigureRow = {
      figure: `added by relay ${label} (relay − direct)`,
      unit: "ms",
      target: `<= ${limitMs} ms`,
    };
    const direct = latency("direct")?.[key];
    const values: number[] = [];
    for (const transport of ["h2", "quic"] as const) {
      const relay = latency(transport)?.[key];
      if (relay === undefined || direct === undefined) continue;
      row[transport] = round3(relay - direct);
      values.push(relay - direct);
    }
    // nginx minus direct: the same hop made by nginx, for comparison.
    const nginx = latency("nginx")?.[key];
    if (nginx !== undefined && direct !== undefined) {
      row.nginx = round3(nginx - direct);
    }
    row.met = values.length === 2 && values.every((v) => v <= limitMs);
    return row;
  };
  return {
    id: "hop_latency",
    title: "Hop latency (1 KiB, sequential, one controller, one device)",
    rows: [
      figure("p50", "p50Ms"),
      figure("p90", "p90Ms"),
      figure("p99", "p99Ms"),
      figure("max", "maxMs"),
      added("p50", "p50Ms", HOP_TARGETS.addedP50Ms),
      added("p99", "p99Ms", HOP_TARGETS.addedP99Ms),
    ],
    settings: {
      payload_bytes: PAYLOAD_BYTES,
      count_per_target: options.count,
      warmup_per_target: options.warmup,
      rounds,
      order: "one client process, targets rotate each round " +
        "(h2/quic/direct/nginx, quic/direct/nginx/h2, ...)",
      processes: "relay, device per transport, client, echo server, nginx",
      nginx_row_in_added: "nginx − direct (the same hop made by nginx)",
    },
    notes,
  };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
