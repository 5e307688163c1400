// Renders benchmark results: the QUIC vs HTTP/2 table first, then relay vs
// direct, then per-target details; or one JSON document.
import type { LoadResult } from "./load_patterns.ts";
import type { ScenarioResult, Target } from "./scenario_runner.ts";
import { alignTable, formatNumber } from "./text_table.ts";

export interface BenchReport {
  environment: Record<string, string | number | boolean>;
  options: Record<string, string | number | boolean>;
  scenarios: ScenarioResult[];
  /** Process warnings seen during the run, by name. */
  warnings: Record<string, number>;
}

interface Comparison {
  id: string;
  title: string;
  base: Target;
  other: Target;
  /** Column headers: base, other, ratio. */
  columns: [string, string, string];
}

const COMPARISONS: Comparison[] = [
  {
    id: "quic_over_h2",
    title:
      "QUIC vs HTTP/2 through the relay (device and controller on the same transport)",
    base: "h2",
    other: "quic",
    columns: ["h2", "quic", "quic/h2"],
  },
  {
    id: "relay_over_direct",
    title: "relay over HTTP/2 vs a direct grpc-js echo (no relay)",
    base: "direct",
    other: "h2",
    columns: ["direct", "relay h2", "relay/direct"],
  },
];

interface Metric {
  label: string;
  pick: (r: LoadResult) => number;
  digits: number;
}

/** The numbers the tables lead with, per scenario kind. */
function metrics(scenario: ScenarioResult): Metric[] {
  if (scenario.kind === "sequential") {
    return [
      { label: "p50 ms", pick: (r) => r.latency.p50Ms, digits: 3 },
      { label: "p99 ms", pick: (r) => r.latency.p99Ms, digits: 3 },
      { label: "mean ms", pick: (r) => r.latency.meanMs, digits: 3 },
    ];
  }
  return [
    { label: "req/s", pick: (r) => r.requestsPerSecond, digits: 0 },
    { label: "MB/s", pick: (r) => r.megabytesPerSecond, digits: 1 },
    { label: "p50 ms", pick: (r) => r.latency.p50Ms, digits: 2 },
    { label: "p99 ms", pick: (r) => r.latency.p99Ms, digits: 2 },
  ];
}

/** Scenarios that ran (or tried) both targets of a comparison. */
function compared(
  scenarios: ScenarioResult[],
  comparison: Comparison,
): ScenarioResult[] {
  const has = (s: ScenarioResult, t: Target) =>
    s.results[t] !== undefined || s.missing[t] !== undefined;
  return scenarios.filter((s) =>
    has(s, comparison.base) && has(s, comparison.other)
  );
}

export function reportJson(report: BenchReport): string {
  const ratios: Record<string, Record<string, number | null>> = {};
  for (const comparison of COMPARISONS) {
    const table: Record<string, number | null> = {};
    for (const scenario of compared(report.scenarios, comparison)) {
      const base = scenario.results[comparison.base];
      const other = scenario.results[comparison.other];
      for (const metric of metrics(scenario)) {
        table[`${scenario.id} ${metric.label}`] =
          base === undefined || other === undefined
            ? null
            : metric.pick(other) / metric.pick(base);
      }
    }
    ratios[comparison.id] = table;
  }
  return JSON.stringify({ ...report, ratios }, null, 2);
}

export function reportTable(report: BenchReport): string {
  const lines: string[] = [];
  const pairs = (record: Record<string, unknown>) =>
    Object.entries(record).map(([k, v]) => `${k}=${v}`).join(" ");
  lines.push(pairs(report.environment), pairs(report.options));
  for (const comparison of COMPARISONS) {
    lines.push("", comparison.title, "");
    lines.push(...comparisonTable(report.scenarios, comparison));
  }
  const notes = report.scenarios.flatMap((s) => [
    ...Object.entries(s.missing).map(([t, why]) => `${s.id} ${t}: ${why}`),
    ...(s.note === undefined ? [] : [`${s.id}: ${s.note}`]),
  ]);
  if (notes.length > 0) lines.push("", ...notes);
  lines.push("", ...detailTable(report.scenarios));
  const warnings = Object.entries(report.warnings);
  if (warnings.length > 0) {
    lines.push(
      "",
      `process warnings: ${
        warnings.map(([name, count]) => `${name} x${count}`).join(", ")
      }`,
    );
  }
  return lines.join("\n");
}

function comparisonTable(
  scenarios: ScenarioResult[],
  comparison: Comparison,
): string[] {
  const rows: string[][] = [];
  for (const scenario of compared(scenarios, comparison)) {
    const base = scenario.results[comparison.base];
    const other = scenario.results[comparison.other];
    metrics(scenario).forEach((metric, index) => {
      const value = (r: LoadResult | undefined) =>
        r === undefined ? "n/a" : formatNumber(metric.pick(r), metric.digits);
      rows.push([
        index === 0 ? scenario.title : "",
        metric.label,
        value(base),
        value(other),
        base === undefined || other === undefined
          ? "n/a"
          : `${(metric.pick(other) / metric.pick(base)).toFixed(2)}x`,
      ]);
    });
  }
  return alignTable(
    ["scenario", "metric", ...comparison.columns],
    rows,
    [false, false, true, true, true],
  );
}

function detailTable(scenarios: ScenarioResult[]): string[] {
  const rows: string[][] = [];
  for (const scenario of scenarios) {
    const entries = Object.entries(scenario.results) as [Target, LoadResult][];
    entries.forEach(([target, r], index) => {
      rows.push([
        scenario.id,
        target,
        String(r.requests),
        `${(r.elapsedMs / 1000).toFixed(2)} s`,
        `${r.cpuMicrosPerRequest.toFixed(0)} us`,
        r.mainThreadMicrosPerRequest === null
          ? "n/a"
          : `${r.mainThreadMicrosPerRequest.toFixed(0)} us`,
        r.runQueueShare === null
          ? "n/a"
          : `${(r.runQueueShare * 100).toFixed(0)}%`,
        `${r.latency.p50Ms.toFixed(2)}/${r.latency.p99Ms.toFixed(2)}/${
          r.latency.maxMs.toFixed(1)
        } ms`,
        index === entries.length - 1
          ? `${scenario.rssMiBAfter.toFixed(0)} MiB`
          : "",
      ]);
    });
  }
  return [
    "details: cpu = this process's CPU (all threads; loss scenarios with a " +
    "namespace run their devices in other processes, not counted), js = main " +
    "JS thread CPU, runq = share of time the main thread waited for a core",
    ...alignTable(
      [
        "scenario",
        "target",
        "requests",
        "elapsed",
        "cpu/req",
        "js/req",
        "runq",
        "p50/p99/max",
        "rss after",
      ],
      rows,
      [false, false, true, true, true, true, true, true, true],
    ),
  ];
}
