// Renders benchmark results: a human-readable table with relay/direct
// ratios, or one JSON document.
import type { ScenarioResult } from "./scenario_runner.ts";

export interface BenchReport {
  environment: Record<string, string | number | boolean>;
  options: Record<string, number | boolean>;
  scenarios: ScenarioResult[];
  /** Process warnings seen during the run, by name. */
  warnings: Record<string, number>;
}

interface Row {
  label: string;
  direct: number;
  relay: number;
  digits: number;
}

export function reportJson(report: BenchReport): string {
  const ratios: Record<string, number> = {};
  for (const scenario of report.scenarios) {
    for (const row of headlineRows(scenario)) {
      ratios[`${scenario.id} ${row.label}`] = row.relay / row.direct;
    }
  }
  return JSON.stringify(
    { ...report, ratios_relay_over_direct: ratios },
    null,
    2,
  );
}

export function reportTable(report: BenchReport): string {
  const lines: string[] = [];
  lines.push(
    Object.entries(report.environment).map(([k, v]) => `${k}=${v}`).join(" "),
  );
  lines.push(
    Object.entries(report.options).map(([k, v]) => `${k}=${v}`).join(" "),
  );
  lines.push("");
  const table: string[][] = [];
  for (const scenario of report.scenarios) {
    headlineRows(scenario).forEach((row, index) => {
      table.push([
        index === 0 ? scenario.title : "",
        row.label,
        format(row.direct, row.digits),
        format(row.relay, row.digits),
        `${(row.relay / row.direct).toFixed(2)}x`,
      ]);
    });
  }
  lines.push(...align(
    ["scenario", "metric", "direct", "relay", "relay/direct"],
    table,
    [false, false, true, true, true],
  ));
  lines.push("");
  lines.push(
    "details: cpu = process CPU (all threads), js = main JS thread CPU, " +
      "runq = share of time the main thread waited for a core",
  );
  const details: string[][] = [];
  for (const scenario of report.scenarios) {
    for (const target of ["direct", "relay"] as const) {
      const r = scenario.results[target];
      details.push([
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
        target === "relay" ? `${scenario.rssMiBAfter.toFixed(0)} MiB` : "",
      ]);
    }
  }
  lines.push(...align(
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
    details,
    [false, false, true, true, true, true, true, true, true],
  ));
  const warnings = Object.entries(report.warnings);
  if (warnings.length > 0) {
    lines.push("");
    lines.push(
      `process warnings: ${
        warnings.map(([name, count]) => `${name} x${count}`).join(", ")
      }`,
    );
  }
  return lines.join("\n");
}

/** The numbers the table leads with, per scenario kind. */
function headlineRows(scenario: ScenarioResult): Row[] {
  const { direct, relay } = scenario.results;
  const row = (
    label: string,
    pick: (r: typeof direct) => number,
    digits: number,
  ): Row => ({ label, direct: pick(direct), relay: pick(relay), digits });
  if (scenario.kind === "sequential") {
    return [
      row("p50 ms", (r) => r.latency.p50Ms, 3),
      row("p99 ms", (r) => r.latency.p99Ms, 3),
      row("mean ms", (r) => r.latency.meanMs, 3),
    ];
  }
  return [
    row("req/s", (r) => r.requestsPerSecond, 0),
    row("MB/s", (r) => r.megabytesPerSecond, 1),
    row("p50 ms", (r) => r.latency.p50Ms, 2),
  ];
}

function format(value: number, digits: number): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function align(
  header: string[],
  rows: string[][],
  right: boolean[],
): string[] {
  const widths = header.map((cell, i) =>
    Math.max(cell.length, ...rows.map((row) => row[i]!.length))
  );
  const render = (row: string[]) =>
    row.map((cell, i) =>
      right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)
    ).join("  ").trimEnd();
  return [
    render(header),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map(render),
  ];
}
