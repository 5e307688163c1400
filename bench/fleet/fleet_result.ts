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

export interface ScenarioOutcome {
  id: string;
  title: string;
  rows: FigureRow[];
  /** Sizes, rates and relay settings the scenario used. */
  settings: Record<string, unknown>;
  /** Errors or remarks worth reading next to the figures. */
  notes: string[];
  /** Measurements over time behind the figures (the soak's memory samples), JSON only. */
  series?: Record<string, unknown>;
}
