// The transparent-call scenario at a glance: one row per path (direct, nginx,
// the relay to an h2 and to a QUIC device agent, the envelope path on the same
// agents), one column per figure: 1 KiB unary p50/p99, added p50 against
// direct, 64 KiB one-stream MB/s and its ratio to direct. The detailed
// outcomes (transparent_scenario.ts) carry the same figures with the rest.
import type { ScenarioOutcome } from "./fleet_result.ts";
import type { TransparentPath, TransparentRun } from "./transparent_targets.ts";

const PATHS: [TransparentPath, string][] = [
  ["direct", "direct"],
  ["nginx", "nginx grpc_pass"],
  ["transparent-h2", "relay, transparent (h2 device)"],
  ["transparent-quic", "relay, transparent (QUIC device)"],
  ["envelope-h2", "relay, envelope path (h2 device)"],
  ["envelope-quic", "relay, envelope path (QUIC device)"],
];

export function transparentSummary(
  run: TransparentRun,
  more: { notes: string[]; targets: { addedP50Ms: number; minRatio: number } },
): ScenarioOutcome {
  const { unary, stream } = run.results;
  const direct = {
    p50: unary.direct?.latency.p50Ms,
    mbps: stream.direct?.megabytesPerSecond,
  };
  const difference = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : a - b;
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || !b ? undefined : a / b;
  return {
    id: "transparent_summary",
    title: "Transparent gRPC calls: summary by path",
    rows: [],
    byPath: {
      columns: [
        "unary 1 KiB p50 (ms)",
        "unary 1 KiB p99 (ms)",
        "added p50 vs direct (ms)",
        "64 KiB stream (MB/s)",
        "stream ratio to direct (×)",
      ],
      rows: PATHS.map(([path, label]) => {
        const p50 = unary[path]?.latency.p50Ms;
        const mbps = stream[path]?.megabytesPerSecond;
        return {
          path: label,
          values: [
            p50,
            unary[path]?.latency.p99Ms,
            path === "direct" ? undefined : difference(p50, direct.p50),
            mbps,
            path === "direct" ? undefined : ratio(mbps, direct.mbps),
          ].map((v) => v === undefined ? v : Math.round(v * 1000) / 1000),
        };
      }),
    },
    settings: {
      targets: `transparent rows: added p50 <= ${more.targets.addedP50Ms} ` +
        `ms, stream ratio >= ${more.targets.minRatio}, and no worse than ` +
        "the envelope row of the same device transport",
      details: "the two tables below (met or not, CPU per call)",
    },
    notes: more.notes,
  };
}
