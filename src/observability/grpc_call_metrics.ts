// Metrics of transparent gRPC calls and CallMany: calls by method path and
// gRPC status, their duration and how many are open. Method paths come from
// callers, so the label keeps the first MAX_METHOD_LABELS distinct paths and
// counts every later one as "other": the series stay bounded.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { SECONDS_BUCKETS } from "./relay_metrics.ts";

const MAX_METHOD_LABELS = 100;
export const OTHER_METHODS = "other";

export class GrpcCallMetrics {
  readonly #calls: Counter<"method" | "code">;
  readonly #duration: Histogram<"code">;
  readonly active: Gauge;
  readonly #methods = new Set<string>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.#calls = new Counter({
      name: "relay_grpc_calls_total",
      help:
        "Transparent gRPC calls to devices' own servers (CallMany: one per device), by method and gRPC status",
      labelNames: ["method", "code"],
      registers,
    });
    this.#duration = new Histogram({
      name: "relay_grpc_call_duration_seconds",
      help: "Time from a transparent call's start at the relay to its status",
      labelNames: ["code"],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.active = new Gauge({
      name: "relay_grpc_calls_active",
      help: "Transparent gRPC calls open now",
      registers,
    });
  }

  /** Counts one finished call; `code` is a gRPC status name. */
  finished(method: string, code: string, seconds: number): void {
    this.#calls.inc({ method: this.#methodLabel(method), code });
    this.#duration.observe({ code }, seconds);
  }

  #methodLabel(method: string): string {
    if (this.#methods.has(method)) return method;
    if (this.#methods.size >= MAX_METHOD_LABELS) return OTHER_METHODS;
    this.#methods.add(method);
    return method;
  }
}
