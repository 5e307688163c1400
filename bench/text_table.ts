// Plain-text tables for the benchmark report: aligned columns, numbers
// with fixed decimals and thousands separators.

export function formatNumber(value: number, digits: number): string {
  if (!Number.isFinite(value)) return "n/a";
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Header, a rule, then the rows; `right[i]` right-aligns column i. */
export function alignTable(
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
