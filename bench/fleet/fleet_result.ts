// What every fleet scenario returns: rows of figures with the h2 and QUIC
// values side by side, and the references (direct, nginx) where measured.
export interface FigureRow {
  /** What was measured, e.g. "RSS at 10,000 devices". */
  figure: string;
  unit: string;
  h2?: number;
  quic?: number;
  /** Same client against a gRPC echo server, no relay. */
  direct?: number;
  /** Same client through nginx grpc_pass to that echo server. */
  nginx?: number;
  /** One relay serving both transports at once (the soak's relay-wide figures). */
  both?: number;
  /** The target as text, e.g. "<= 600 MB (h2), <= 1.5 GB (quic)". */
  target?: string;
  /** Whether every measured value meets the target (absent: no target). */
  met?: boolean;
}

/**
 * A table with one row per path measured and one column per figure (the
 * transparent scenario's summary), where rows of figures with a column per
 * path would not fit: its paths are more than the h2/quic/direct/nginx columns.
 */
export interface PathTable {
  /** Figure headings with their unit, e.g. "unary p50 (ms)". */
  columns: string[];
  /** One value per column (absent: not measured). */
  rows: { path: string; values: (number | undefined)[] }[];
}

export interface ScenarioOutcome {
  id: string;
  title: string;
  rows: FigureRow[];
  /** Printed after `rows` (or alone when `rows` is empty). */
  byPath?: PathTable;
  /** Sizes, rates and relay settings the scenario used. */
  settings: Record<string, unknown>;
  /** Errors or remarks worth reading next to the figures. */
  notes: string[];
  /** Measurements over time behind the figures (the soak's memory samples), JSON only. */
  series?: Record<string, unknown>;
}
