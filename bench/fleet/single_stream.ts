// Scenario 4, single-stream throughput: 64 KiB payloads with a window of
// requests in flight on ONE controller session (one ConnectToDevice stream)
// to one device, through the relay (h2, QUIC) against the same client on the
// echo server directly and through nginx. Targets rotate in rounds inside
// one client process; relay CPU is sampled from /proc around each round.
import type { FigureRow, ScenarioOutcome } from "./fleet_result.ts";
import { runEchoClient, startEchoTargets } from "./echo_targets.ts";

export const STREAM_TARGETS = { minMegabytesPerSecond: 100, minRatio: 0.5 };

export interface SingleStreamOptions {
  /** Measured time per target (full profile >= 10 s). */
  durationMs: number;
  /** Requests in flight on the one session. */
  window: number;
  payloadKiB: number;
  /** Unmeasured time per target first (default min(2 s, durationMs / 5)). */
  warmupMs?: number;
  /** Rounds the duration is split into (default one per ~2 s, at least 1). */
  rounds?: number;
  relayConfig?: Record<string, unknown>;
  progress: (text: string) => void;
}

export async function runSingleStream(
  options: SingleStreamOptions,
): Promise<ScenarioOutcome> {
  const rounds = options.rounds ??
    Math.max(1, Math.round(options.durationMs / 2000));
  const warmupMs = options.warmupMs ??
    Math.min(2000, Math.round(options.durationMs / 5));
  const payloadBytes = options.payloadKiB * 1024;
  const progress = (text: string) => options.progress(`single stream: ${text}`);
  const notes: string[] = [];
  const targets = await startEchoTargets(progress, {
    ...(options.relayConfig ? { relayConfig: options.relayConfig } : {}),
  });
  let run;
  try {
    run = await runEchoClient(
      targets,
      [
        ...["--mode", "windowed", "--payload", String(payloadBytes)],
        ...["--window", String(options.window), "--rounds", String(rounds)],
        ...["--duration-ms", String(options.durationMs)],
        ...["--warmup-ms", String(warmupMs)],
      ],
      120_000 + 4 * (options.durationMs + warmupMs) * 2,
      progress,
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

  const mbps = (target: "h2" | "quic" | "direct" | "nginx") =>
    run.results[target]?.megabytesPerSecond;
  const direct = mbps("direct");
  const throughput: FigureRow = {
    figure:
      `echo throughput, ${options.payloadKiB} KiB, window ${options.window}`,
    unit: "MB/s",
    target: `>= ${STREAM_TARGETS.minMegabytesPerSecond} MB/s`,
  };
  const ratio: FigureRow = {
    figure: "ratio to direct",
    unit: "×",
    target: `>= ${STREAM_TARGETS.minRatio}`,
  };
  let throughputMet = true;
  let ratioMet = true;
  for (const target of ["h2", "quic", "direct", "nginx"] as const) {
    const value = mbps(target);
    if (value !== undefined) throughput[target] = round1(value);
    if (value !== undefined && direct !== undefined && target !== "direct") {
      ratio[target] = Math.round((value / direct) * 100) / 100;
    }
    if (target === "h2" || target === "quic") {
      throughputMet &&= value !== undefined &&
        value >= STREAM_TARGETS.minMegabytesPerSecond;
      ratioMet &&= value !== undefined && direct !== undefined &&
        value / direct >= STREAM_TARGETS.minRatio;
    }
  }
  throughput.met = throughputMet;
  ratio.met = ratioMet;
  const rows = [throughput, ratio];
  const p99: FigureRow = { figure: "request round trip p99", unit: "ms" };
  for (const target of ["h2", "quic", "direct", "nginx"] as const) {
    const value = run.results[target]?.latency.p99Ms;
    if (value !== undefined) p99[target] = round1(value);
  }
  rows.push(p99);
  if (run.relayCores.h2 !== undefined || run.relayCores.quic !== undefined) {
    rows.push({
      figure: "relay CPU while measured",
      unit: "cores",
      ...(run.relayCores.h2 !== undefined
        ? { h2: round2(run.relayCores.h2) }
        : {}),
      ...(run.relayCores.quic !== undefined
        ? { quic: round2(run.relayCores.quic) }
        : {}),
    });
  }
  return {
    id: "single_stream",
    title:
      `Single-stream throughput (${options.payloadKiB} KiB, window ${options.window}, one session)`,
    rows,
    settings: {
      payload_bytes: payloadBytes,
      window: options.window,
      duration_s_per_target: options.durationMs / 1000,
      warmup_s_per_target: warmupMs / 1000,
      rounds,
      megabyte: "10^6 bytes of payload echoed per second, one direction",
      order: "one client process, targets rotate each round",
      processes: "relay, device per transport, client, echo server, nginx",
    },
    notes,
  };
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
