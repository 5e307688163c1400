// The fleet bench report: a markdown table per scenario (h2 and QUIC side by
// side, references where measured) and the JSON result file.
import type { FigureRow, PathTable, ScenarioOutcome } from "./fleet_result.ts";

export interface FleetReport {
  environment: Record<string, unknown>;
  profile: string;
  relay_settings: Record<string, unknown>;
  scenarios: ScenarioOutcome[];
  failures: { scenario: string; error: string }[];
}

const COLUMNS = ["h2", "quic", "direct", "nginx", "both"] as const;

function cell(value: number | undefined): string {
  if (value === undefined) return "";
  if (!Number.isFinite(value)) return "n/a";
  // Counts print as whole numbers; measured figures to 3 significant digits.
  const digits = Number.isInteger(value) || Math.abs(value) >= 100
    ? 0
    : Math.abs(value) >= 10
    ? 1
    : Math.abs(value) >= 1
    ? 2
    : 3;
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function tableRow(row: FigureRow, columns: readonly string[]): string {
  const values = columns.map((c) =>
    cell(row[c as keyof FigureRow] as number | undefined)
  );
  const met = row.met === undefined ? "" : row.met ? "yes" : "**no**";
  return `| ${row.figure}${row.unit ? ` (${row.unit})` : ""} | ${
    values.join(" | ")
  } | ${row.target ?? ""} | ${met} |`;
}

function pathTable(table: PathTable): string[] {
  return [
    `| path | ${table.columns.join(" | ")} |`,
    `|---|${table.columns.map(() => "---:").join("|")}|`,
    ...table.rows.map((row) =>
      `| ${row.path} | ${row.values.map(cell).join(" | ")} |`
    ),
  ];
}

export function markdownReport(report: FleetReport): string {
  const lines: string[] = [`# Fleet benchmark (${report.profile})`, ""];
  lines.push("| machine and versions | |", "|---|---|");
  for (const [key, value] of Object.entries(report.environment)) {
    lines.push(`| ${key} | ${value} |`);
  }
  lines.push(
    "",
    `Relay settings: \`${JSON.stringify(report.relay_settings)}\``,
  );
  for (const scenario of report.scenarios) {
    const columns = COLUMNS.filter((c) =>
      scenario.rows.some((r) => r[c] !== undefined)
    );
    lines.push("", `## ${scenario.title}`, "");
    if (scenario.rows.length > 0) {
      lines.push(
        `| figure | ${columns.join(" | ")} | target | met |`,
        `|---|${columns.map(() => "---:").join("|")}|---|---|`,
        ...scenario.rows.map((row) => tableRow(row, columns)),
        "",
      );
    }
    if (scenario.byPath) lines.push(...pathTable(scenario.byPath), "");
    lines.push(
      `Settings: \`${JSON.stringify(scenario.settings)}\``,
      ...scenario.notes.map((note) => `- ${note}`),
    );
  }
  for (const failure of report.failures) {
    lines.push("", `**${failure.scenario} failed**: ${failure.error}`);
  }
  return lines.join("\n");
}
