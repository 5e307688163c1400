// What a running relay exports, for the tests of what names its metrics (the
// alert rules, the Grafana dashboard): every metric name of /metrics and the
// label names of each, and the PromQL expressions' metrics and labels that
// are not among them.
import type { Registry } from "prom-client";

/** Labels Prometheus adds to every scraped series, not the relay. */
const TARGET_LABELS = new Set(["instance", "job"]);
/** Series Prometheus makes itself. */
const PROMETHEUS_SERIES = new Set(["up"]);
const HISTOGRAM_SUFFIXES = ["_bucket", "_sum", "_count"];

export class ExportedMetrics {
  readonly #names: Set<string>;
  readonly #registry: Registry;

  constructor(exposition: string, registry: Registry) {
    this.#names = new Set(
      [...exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(
        ([, name, type]) =>
          type === "histogram"
            ? [name!, ...HISTOGRAM_SUFFIXES.map((suffix) => name + suffix)]
            : [name!],
      ),
    );
    this.#registry = registry;
  }

  /** What `expr` names that the relay does not export (empty: all is there). */
  problems(expr: string): string[] {
    const problems: string[] = [];
    const names: string[] = [];
    for (
      const [, name, matchers] of expr.matchAll(
        /\b([a-z_][a-z0-9_]*)\s*(?:\{([^}]*)\})?/g,
      )
    ) {
      if (!name!.startsWith("relay_") || PROMETHEUS_SERIES.has(name!)) {
        continue;
      }
      names.push(name!);
      if (!this.#names.has(name!)) {
        problems.push(`no metric ${name}`);
        continue;
      }
      for (
        const [, label] of (matchers ?? "").matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)
      ) {
        if (
          !TARGET_LABELS.has(label!) && !this.#labels(name!).includes(label!)
        ) {
          problems.push(`${name} has no label ${label}`);
        }
      }
    }
    // Labels aggregated by must be on some metric of the expression.
    for (const [, list] of expr.matchAll(/\bby\s*\(([^)]*)\)/g)) {
      for (const label of list!.split(",").map((l) => l.trim())) {
        if (
          !TARGET_LABELS.has(label) &&
          !names.some((name) => this.#labels(name).includes(label))
        ) {
          problems.push(`no metric of it has label ${label}`);
        }
      }
    }
    return problems;
  }

  /** The relay metrics `expr` names. */
  static namedIn(expr: string): string[] {
    return [...expr.matchAll(/\b(relay_[a-z0-9_]*)/g)].map(([, name]) => name!);
  }

  #labels(name: string): string[] {
    const base = HISTOGRAM_SUFFIXES.reduce(
      (n, suffix) => n.endsWith(suffix) ? n.slice(0, -suffix.length) : n,
      name,
    );
    const metric = this.#registry.getSingleMetric(base) as
      | { labelNames?: string[] }
      | undefined;
    return [
      ...(metric?.labelNames ?? []),
      ...(name.endsWith("_bucket") ? ["le"] : []),
    ];
  }
}
