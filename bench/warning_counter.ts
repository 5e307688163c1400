// Counts process warnings (e.g. grpc-js MaxListenersExceededWarning) by name
// while the benchmark runs, so the report can say how often they fired.
import process from "node:process";

export interface WarningCounter {
  /** Counts by warning name since start. */
  counts(): Record<string, number>;
  stop(): void;
}

export function countWarnings(): WarningCounter {
  const counts: Record<string, number> = {};
  const onWarning = (warning: Error) => {
    counts[warning.name] = (counts[warning.name] ?? 0) + 1;
  };
  process.on("warning", onWarning);
  return {
    counts: () => ({ ...counts }),
    stop: () => {
      process.off("warning", onWarning);
    },
  };
}
