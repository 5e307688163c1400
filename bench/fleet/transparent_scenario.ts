// Scenario 7, transparent gRPC calls: any gRPC client calls a device's own
// server through the relay's gRPC port (`relay-device-id` metadata), bytes
// through. One run measures, from one client process in rotating rounds:
//   direct       client → the device's server (TLS)
//   nginx        client → nginx grpc_pass → the server's plaintext port
//   transparent  client → relay → device agent (h2 or QUIC) → server (h2c)
//   envelope     controller SDK → relay → the same agent's echo handler
// with 1 KiB unary calls one after the other (hop latency) and 64 KiB
// messages with a window in flight on one stream (throughput). Added
// latency is path p50 − direct p50; the throughput ratio is path / direct.
import type { FigureRow, ScenarioOutcome } from "./fleet_result.ts";
import type { Phase } from "./transparent_client_worker.ts";
import {
  type CpuTotal,
  DEVICE_TRANSPORTS,
  type Measured,
  runTransparentClient,
  startTransparentRig,
  type TransparentPath,
  type TransparentRun,
} from "./transparent_targets.ts";
import { transparentSummary } from "./transparent_summary.ts";

export const TRANSPARENT_TARGETS = {
  addedP50Ms: 0.5,
  minRatio: 0.5,
};
const UNARY_BYTES = 1024;
/** Rounds the unary count is split into (paths rotate each round). */
const UNARY_ROUNDS = 5;

export interface TransparentOptions {
  /** Measured unary calls per path. */
  count: number;
  /** Unmeasured unary calls per path first. */
  warmup: number;
  /** Measured streaming time per path. */
  durationMs: number;
  /** Messages in flight on the one stream. */
  window: number;
  payloadKiB: number;
  /** Unmeasured streaming time per path first (default min(1 s, durationMs / 3)). */
  warmupMs?: number;
  progress: (text: string) => void;
}

type Column = "h2" | "quic" | "direct" | "nginx";
/** Which path fills which column of a row. */
type Columns = Partial<Record<Column, TransparentPath>>;
const TRANSPARENT: Columns = {
  h2: "transparent-h2",
  quic: "transparent-quic",
  direct: "direct",
  nginx: "nginx",
};
const ENVELOPE: Columns = { h2: "envelope-h2", quic: "envelope-quic" };
const RELAYED = ["h2", "quic"] as const;

export async function runTransparent(
  options: TransparentOptions,
): Promise<ScenarioOutcome[]> {
  const progress = (text: string) => options.progress(`transparent: ${text}`);
  const streamRounds = Math.max(1, Math.round(options.durationMs / 2000));
  const warmupMs = options.warmupMs ??
    Math.min(1000, Math.round(options.durationMs / 3));
  const rig = await startTransparentRig(progress);
  let run: TransparentRun;
  try {
    const paths = rig.specs.length;
    run = await runTransparentClient(
      rig,
      [
        ...["--unary-payload", String(UNARY_BYTES)],
        ...["--count", String(options.count)],
        ...["--warmup", String(options.warmup)],
        ...["--rounds", String(UNARY_ROUNDS)],
        ...["--stream-payload", String(options.payloadKiB * 1024)],
        ...["--window", String(options.window)],
        ...["--duration-ms", String(options.durationMs)],
        ...["--warmup-ms", String(warmupMs)],
        ...["--stream-rounds", String(streamRounds)],
      ],
      // A call is ~1 ms; a stall shows as a timeout, not a hang.
      120_000 + paths * ((options.count + options.warmup) * 20 +
            2 * (options.durationMs + warmupMs)),
      progress,
    );
  } finally {
    await rig.close();
  }
  const notes = (phase: Phase) => [
    ...Object.entries(rig.missing).map(([path, reason]) =>
      `${path}: not measured (${reason})`
    ),
    ...Object.entries(run.errors)
      .filter(([key]) => key.startsWith(`${phase} `))
      .map(([key, reason]) =>
        `${key.slice(phase.length + 1)}: failed (${reason})`
      ),
  ];
  const common = {
    columns: "h2, quic: through the relay, to the device agent on that " +
      "transport (gRPC client rows: transparent calls; envelope rows: " +
      "ConnectToDevice); direct, nginx: the same gRPC client without the relay",
    order: "one client process, paths rotate each round",
    processes: "relay, device gRPC server, one device agent per transport " +
      "(transparent and envelope on the same agent), nginx, client",
  };
  return [
    transparentSummary(run, {
      notes: [...new Set([...notes("unary"), ...notes("stream")])],
      targets: TRANSPARENT_TARGETS,
    }),
    latencyOutcome(run, options, { notes: notes("unary"), common }),
    streamOutcome(run, options, {
      notes: notes("stream"),
      common,
      warmupMs,
      streamRounds,
    }),
  ];
}

/** A row of one figure per column, from the paths `columns` names. */
function row(
  figure: string,
  unit: string,
  columns: Columns,
  value: (path: TransparentPath) => number | undefined,
): FigureRow {
  const out: FigureRow = { figure, unit };
  for (const [column, path] of Object.entries(columns)) {
    const v = value(path);
    if (v !== undefined && Number.isFinite(v)) out[column as Column] = v;
  }
  return out;
}

/** `row` with a target met when every relayed column (h2, quic) passes. */
function targetRow(
  base: FigureRow,
  target: string,
  pass: (value: number) => boolean,
): FigureRow {
  const values = RELAYED.map((column) => base[column]);
  return {
    ...base,
    target,
    met: values.every((v) => v !== undefined && pass(v)),
  };
}

function latencyOutcome(
  run: TransparentRun,
  options: TransparentOptions,
  more: { notes: string[]; common: Record<string, string> },
): ScenarioOutcome {
  const unary = run.results.unary;
  const at = (key: "p50Ms" | "p90Ms" | "p99Ms") => (path: TransparentPath) =>
    round3(unary[path]?.latency[key]);
  const added = (key: "p50Ms" | "p99Ms") => (path: TransparentPath) => {
    const direct = unary.direct?.latency[key];
    const value = unary[path]?.latency[key];
    return direct === undefined || value === undefined
      ? undefined
      : round3(value - direct);
  };
  const { nginx: _, direct: __, ...relayedTransparent } = TRANSPARENT;
  const versusEnvelope = (path: TransparentPath) => {
    const envelope =
      unary[path.replace("transparent", "envelope") as TransparentPath];
    const transparent = unary[path];
    return envelope && transparent
      ? round3(transparent.latency.p50Ms - envelope.latency.p50Ms)
      : undefined;
  };
  const rows: FigureRow[] = [
    row("gRPC client round trip p50", "ms", TRANSPARENT, at("p50Ms")),
    row("gRPC client round trip p90", "ms", TRANSPARENT, at("p90Ms")),
    row("gRPC client round trip p99", "ms", TRANSPARENT, at("p99Ms")),
    row("envelope (SDK) round trip p50", "ms", ENVELOPE, at("p50Ms")),
    row("envelope (SDK) round trip p99", "ms", ENVELOPE, at("p99Ms")),
    targetRow(
      row(
        "transparent added p50 (path − direct)",
        "ms",
        { ...relayedTransparent, nginx: "nginx" },
        added("p50Ms"),
      ),
      `<= ${TRANSPARENT_TARGETS.addedP50Ms} ms`,
      (v) => v <= TRANSPARENT_TARGETS.addedP50Ms,
    ),
    row(
      "transparent added p99 (path − direct)",
      "ms",
      { ...relayedTransparent, nginx: "nginx" },
      added("p99Ms"),
    ),
    row("envelope added p50 (path − direct)", "ms", ENVELOPE, added("p50Ms")),
    targetRow(
      row(
        "transparent − envelope p50",
        "ms",
        relayedTransparent,
        versusEnvelope,
      ),
      "<= 0 ms (no worse than envelope)",
      (v) => v <= 0,
    ),
    ...cpuRows(run, "unary", "relay", "relay CPU per call"),
    ...cpuRows(run, "unary", "agent", "device agent CPU per call"),
    ...pathCpuRows(run, "unary", "CPU per call"),
  ];
  return {
    id: "transparent_latency",
    title:
      "Transparent gRPC calls: hop latency (1 KiB unary, sequential, one client, one device)",
    rows,
    settings: {
      payload_bytes: UNARY_BYTES,
      count_per_path: options.count,
      warmup_per_path: options.warmup,
      rounds: UNARY_ROUNDS,
      paths: {
        direct: "grpc-js client → device server (TLS)",
        nginx: "client → nginx grpc_pass (TLS) → device server (h2c, " +
          "upstream keepalive)",
        transparent: "client → relay gRPC port (TLS, relay-device-id) → " +
          "device agent (h2 or QUIC) → device server (h2c)",
        envelope: "controller SDK ConnectToDevice session (plaintext, E2E " +
          "off) → relay → the same agent's echo handler",
      },
      ...more.common,
      cpu_per_call: "CPU time of the process over the measured rounds of " +
        "that path / calls (µs)",
    },
    notes: more.notes,
  };
}

function streamOutcome(
  run: TransparentRun,
  options: TransparentOptions,
  more: {
    notes: string[];
    common: Record<string, string>;
    warmupMs: number;
    streamRounds: number;
  },
): ScenarioOutcome {
  const stream = run.results.stream;
  const mbps = (path: TransparentPath) =>
    round1(stream[path]?.megabytesPerSecond);
  const ratio = (path: TransparentPath) => {
    const direct = stream.direct?.megabytesPerSecond;
    const value = stream[path]?.megabytesPerSecond;
    return direct && value !== undefined ? round2(value / direct) : undefined;
  };
  const { direct: _, ...notDirect } = TRANSPARENT;
  const versusEnvelope = (path: TransparentPath) => {
    const envelope =
      stream[path.replace("transparent", "envelope") as TransparentPath];
    const transparent = stream[path];
    return envelope && transparent
      ? round2(transparent.megabytesPerSecond / envelope.megabytesPerSecond)
      : undefined;
  };
  const { nginx: __, ...relayedTransparent } = notDirect;
  const rows: FigureRow[] = [
    row("gRPC client throughput", "MB/s", TRANSPARENT, mbps),
    row("envelope (SDK) throughput", "MB/s", ENVELOPE, mbps),
    targetRow(
      row("transparent ratio to direct", "×", notDirect, ratio),
      `>= ${TRANSPARENT_TARGETS.minRatio}`,
      (v) => v >= TRANSPARENT_TARGETS.minRatio,
    ),
    row("envelope ratio to direct", "×", ENVELOPE, ratio),
    targetRow(
      row("transparent / envelope", "×", relayedTransparent, versusEnvelope),
      ">= 1 (no worse than envelope)",
      (v) => v >= 1,
    ),
    row(
      "gRPC client message round trip p99",
      "ms",
      TRANSPARENT,
      (path) => round1(stream[path]?.latency.p99Ms),
    ),
    ...cpuRows(run, "stream", "relay", "relay CPU while streaming"),
    ...cpuRows(run, "stream", "agent", "device agent CPU while streaming"),
    ...pathCpuRows(run, "stream", "CPU while streaming"),
  ];
  return {
    id: "transparent_stream",
    title:
      `Transparent gRPC calls: one-stream throughput (${options.payloadKiB} KiB, window ${options.window})`,
    rows,
    settings: {
      payload_bytes: options.payloadKiB * 1024,
      window: options.window,
      duration_s_per_path: options.durationMs / 1000,
      warmup_s_per_path: more.warmupMs / 1000,
      rounds: more.streamRounds,
      stream: "transparent/direct/nginx: one bench.Echo/Stream bidi call; " +
        "envelope: one ConnectToDevice session",
      megabyte: "10^6 bytes of payload echoed per second, one direction",
      ...more.common,
    },
    notes: more.notes,
  };
}

/**
 * Per-call µs (unary) or cores (stream) that the processes `who` spent
 * together while `path` was measured; undefined unless all were measured.
 */
function cpuValue(
  run: TransparentRun,
  phase: Phase,
  who: readonly Measured[],
) {
  return (path: TransparentPath): number | undefined => {
    const spent: CpuTotal[] = [];
    for (const w of who) {
      const total = run.cpu[phase][path]?.[w];
      if (!total || total.wallMs <= 0) return undefined;
      spent.push(total);
    }
    const seconds = spent.reduce((sum, s) => sum + s.seconds, 0);
    if (phase === "stream") {
      // Every process was sampled around the same rounds: one wall time.
      return round2(seconds / (spent[0]!.wallMs / 1000));
    }
    const calls = run.results.unary[path]?.requests;
    return calls ? Math.round((seconds * 1e6) / calls) : undefined;
  };
}

/**
 * The client's and the device server's CPU on every path, and that of all
 * the processes measured on it (client, relay, agent, server: the whole
 * path but nginx, whose workers are not sampled).
 */
function pathCpuRows(
  run: TransparentRun,
  phase: Phase,
  label: string,
): FigureRow[] {
  const all = (path: TransparentPath): number | undefined => {
    const who: Measured[] = path.startsWith("transparent")
      ? ["client", "relay", "agent", "server"]
      : path.startsWith("envelope")
      ? ["client", "relay", "agent"]
      : ["client", "server"];
    return cpuValue(run, phase, who)(path);
  };
  const unit = phase === "stream" ? "cores" : "µs";
  const busy = (path: TransparentPath) => {
    const machine = run.cpu[phase][path]?.machine;
    return machine && machine.wallMs > 0
      ? round2(machine.seconds / (machine.wallMs / 1000))
      : undefined;
  };
  return [
    row(`client ${label}`, unit, TRANSPARENT, cpuValue(run, phase, ["client"])),
    row(
      `client ${label}, envelope`,
      unit,
      ENVELOPE,
      cpuValue(run, phase, ["client"]),
    ),
    row(
      `device server ${label}`,
      unit,
      TRANSPARENT,
      cpuValue(run, phase, ["server"]),
    ),
    row(`all measured processes ${label}`, unit, TRANSPARENT, all),
    row(`all measured processes ${label}, envelope`, unit, ENVELOPE, all),
    // Of the machine's cores: how close the path came to using them all.
    row("machine busy (all processes, kernel)", "cores", TRANSPARENT, busy),
    row(
      "machine busy (all processes, kernel), envelope",
      "cores",
      ENVELOPE,
      busy,
    ),
  ];
}

/** Per-call µs (unary) or cores (stream) of one process, transparent and envelope. */
function cpuRows(
  run: TransparentRun,
  phase: Phase,
  who: Measured,
  label: string,
): FigureRow[] {
  const value = cpuValue(run, phase, [who]);
  const unit = phase === "stream" ? "cores" : "µs";
  const byTransport = (kind: "transparent" | "envelope"): Columns =>
    Object.fromEntries(
      DEVICE_TRANSPORTS.map((t) => [t, `${kind}-${t}` as TransparentPath]),
    );
  return [
    row(`${label}, transparent`, unit, byTransport("transparent"), value),
    row(`${label}, envelope`, unit, byTransport("envelope"), value),
  ];
}

function round1(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(value * 10) / 10;
}

function round2(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(value * 100) / 100;
}

function round3(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(value * 1000) / 1000;
}
