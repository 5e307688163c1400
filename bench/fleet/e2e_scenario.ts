// End-to-end encryption at line rate: pipelined requests on ONE controller
// session to one echo device, with E2E on (the SDK default: session
// envelopes) and off (plaintext), over h2 and QUIC, the four targets taking
// turns in rounds of one client process; 64 B and 1 KiB payloads. The relay
// is its own process and forwards bytes either way: its CPU per request,
// sampled from /proc around each round, should not change.
import type { FigureRow, PathTable, ScenarioOutcome } from "./fleet_result.ts";
import { runEchoClient, startEchoTargets } from "./echo_targets.ts";

/** E2E on must keep this share of the plaintext rate on the same session. */
export const E2E_TARGET_RATIO = 0.8;

export interface E2eOptions {
  /** Measured time per target and payload. */
  durationMs: number;
  /** Requests in flight on the one session. */
  window: number;
  payloads: number[];
  rounds?: number;
  progress: (text: string) => void;
}

const TRANSPORTS = ["h2", "quic"] as const;

export async function runE2e(options: E2eOptions): Promise<ScenarioOutcome> {
  const rounds = options.rounds ??
    Math.max(2, Math.round(options.durationMs / 2000));
  const warmupMs = Math.min(2000, Math.round(options.durationMs / 4));
  const progress = (text: string) => options.progress(`e2e: ${text}`);
  const targets = await startEchoTargets(progress, { e2e: true });
  const notes: string[] = [];
  const byPayload = new Map<
    number,
    Awaited<ReturnType<typeof runEchoClient>>
  >();
  try {
    for (const payload of options.payloads) {
      const run = await runEchoClient(
        targets,
        [
          ...["--mode", "windowed", "--payload", String(payload)],
          ...["--window", String(options.window), "--rounds", String(rounds)],
          ...["--duration-ms", String(options.durationMs)],
          ...["--warmup-ms", String(warmupMs)],
        ],
        120_000 + 8 * (options.durationMs + warmupMs),
        (text) => progress(`${label(payload)}: ${text}`),
      );
      for (const [target, reason] of Object.entries(run.errors)) {
        notes.push(`${label(payload)} ${target}: failed (${reason})`);
      }
      byPayload.set(payload, run);
    }
  } finally {
    await targets.close();
  }

  const rows: FigureRow[] = [];
  const table: PathTable = {
    columns: options.payloads.flatMap((payload) => [
      `${label(payload)} req/s`,
      `${label(payload)} p50 (ms)`,
      `${label(payload)} relay CPU/req (us)`,
      `${label(payload)} client CPU/req (us)`,
      `${label(payload)} device CPU/req (us)`,
    ]),
    rows: [],
  };
  for (const transport of TRANSPORTS) {
    for (const e2e of [false, true]) {
      const name = e2e ? `${transport}+e2e` : transport;
      table.rows.push({
        path: `${transport}, E2E ${e2e ? "on" : "off"}`,
        values: options.payloads.flatMap((payload) => {
          const run = byPayload.get(payload);
          const result = run?.results[name];
          return [
            result && Math.round(result.requestsPerSecond),
            result && round2(result.latency.p50Ms),
            microsPerRequest(run, run?.relayCores, name),
            result && Math.round(result.cpuMicrosPerRequest),
            microsPerRequest(run, run?.deviceCores, name),
          ];
        }),
      });
    }
  }
  for (const payload of options.payloads) {
    const run = byPayload.get(payload);
    const ratio: FigureRow = {
      figure: `${label(payload)}: E2E on / off, requests per second`,
      unit: "×",
      target: `>= ${E2E_TARGET_RATIO}`,
    };
    const relayCpu: FigureRow = {
      figure: `${label(payload)}: relay CPU per request, E2E on / off`,
      unit: "×",
      target: "about 1",
    };
    let met = true;
    for (const transport of TRANSPORTS) {
      const on = run?.results[`${transport}+e2e`]?.requestsPerSecond;
      const off = run?.results[transport]?.requestsPerSecond;
      const value = on !== undefined && off ? round2(on / off) : undefined;
      if (value !== undefined) ratio[transport] = value;
      met &&= value !== undefined && value >= E2E_TARGET_RATIO;
      const cpuOn = microsPerRequest(run, run?.relayCores, `${transport}+e2e`);
      const cpuOff = microsPerRequest(run, run?.relayCores, transport);
      if (cpuOn !== undefined && cpuOff) {
        relayCpu[transport] = round2(cpuOn / cpuOff);
      }
    }
    ratio.met = met;
    rows.push(ratio, relayCpu);
  }
  return {
    id: "e2e",
    title:
      `End-to-end encryption on one session (window ${options.window}, E2E on and off in one run)`,
    rows,
    byPath: table,
    settings: {
      payload_bytes: options.payloads,
      window: options.window,
      duration_s_per_target: options.durationMs / 1000,
      warmup_s_per_target: warmupMs / 1000,
      rounds,
      e2e: "session envelopes (docs/e2e.md version 2); device accepts both",
    },
    notes,
  };
}

/** A process's CPU per request while `target` was measured, in microseconds. */
function microsPerRequest(
  run: Awaited<ReturnType<typeof runEchoClient>> | undefined,
  coresByTarget: Partial<Record<string, number>> | undefined,
  target: string,
): number | undefined {
  const cores = coresByTarget?.[target];
  const rate = run?.results[target]?.requestsPerSecond;
  return cores === undefined || !rate
    ? undefined
    : Math.round((cores / rate) * 1e6);
}

function label(payload: number): string {
  return payload >= 1024 ? `${payload / 1024} KiB` : `${payload} B`;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
