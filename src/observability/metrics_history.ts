// The relay's recent past for the operator console's charts: every interval
// (5 s by default) one sample computed from the relay's own Prometheus
// metrics (request and error rates, latency quantiles from the duration
// histogram's bucket deltas, devices by transport), kept in a ring that
// covers 15 minutes and never holds more than MAX_SAMPLES.
import type { Registry } from "prom-client";

/** 15 minutes of samples at most, and never more than MAX_SAMPLES of them. */
export const HISTORY_SPAN_MS = 15 * 60 * 1000;
export const MAX_SAMPLES = 900;

export interface MetricsSample {
  /** Unix milliseconds. */
  at: number;
  requestsPerSecond: number;
  /** Answers with a code other than OK, per second. */
  errorsPerSecond: number;
  /** Latency quantiles of the requests answered in the interval; null when none. */
  p50Seconds: number | null;
  p99Seconds: number | null;
  /** Devices this relay holds, by transport ("none": waiting for a resume). */
  devicesByTransport: Record<string, number>;
}

export interface MetricsHistoryOptions {
  registry: Registry;
  intervalMs: number;
  now?: () => number;
}

interface Totals {
  at: number;
  requests: number;
  errors: number;
  /** Cumulative count per bucket upper bound, summed over codes. */
  buckets: Map<number, number>;
}

export class MetricsHistory {
  readonly #options: MetricsHistoryOptions;
  readonly #now: () => number;
  readonly #capacity: number;
  readonly #samples: MetricsSample[] = [];
  #previous: Totals | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: MetricsHistoryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#capacity = Math.min(
      MAX_SAMPLES,
      Math.ceil(HISTORY_SPAN_MS / options.intervalMs),
    );
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Takes a first sample now (the baseline), then one every interval. */
  start(): void {
    if (this.#timer !== undefined) return;
    void this.sample();
    this.#timer = setInterval(
      () => void this.sample(),
      this.#options.intervalMs,
    );
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Oldest first. */
  samples(): readonly MetricsSample[] {
    return this.#samples;
  }

  async sample(): Promise<void> {
    const totals = await this.#totals();
    const devicesByTransport = await this.#devicesByTransport();
    const previous = this.#previous;
    this.#previous = totals;
    const seconds = previous ? (totals.at - previous.at) / 1000 : 0;
    const rate = (now: number, before: number) =>
      seconds > 0 ? Math.max(0, now - before) / seconds : 0;
    const delta = previous ? bucketDelta(totals.buckets, previous.buckets) : [];
    this.#samples.push({
      at: totals.at,
      requestsPerSecond: rate(totals.requests, previous?.requests ?? 0),
      errorsPerSecond: rate(totals.errors, previous?.errors ?? 0),
      p50Seconds: quantile(delta, 0.5),
      p99Seconds: quantile(delta, 0.99),
      devicesByTransport,
    });
    if (this.#samples.length > this.#capacity) this.#samples.shift();
  }

  async #totals(): Promise<Totals> {
    const registry = this.#options.registry;
    const at = this.#now();
    let requests = 0;
    let errors = 0;
    const counter = await registry.getSingleMetric("relay_requests_total")
      ?.get();
    for (const { value, labels } of counter?.values ?? []) {
      requests += value;
      if (labels.code !== "OK") errors += value;
    }
    const buckets = new Map<number, number>();
    const histogram = await registry.getSingleMetric(
      "relay_request_duration_seconds",
    )?.get();
    for (const entry of histogram?.values ?? []) {
      const name = (entry as { metricName?: string }).metricName;
      if (!name?.endsWith("_bucket")) continue;
      const le = Number(
        entry.labels.le === "+Inf" ? Infinity : entry.labels.le,
      );
      buckets.set(le, (buckets.get(le) ?? 0) + entry.value);
    }
    return { at, requests, errors, buckets };
  }

  async #devicesByTransport(): Promise<Record<string, number>> {
    const gauge = await this.#options.registry.getSingleMetric("relay_devices")
      ?.get();
    const byTransport: Record<string, number> = {};
    for (const { value, labels } of gauge?.values ?? []) {
      const transport = String(labels.transport ?? "none");
      byTransport[transport] = (byTransport[transport] ?? 0) + value;
    }
    return byTransport;
  }
}

/** Per-bucket counts of the interval, by upper bound, ascending. */
function bucketDelta(
  now: Map<number, number>,
  before: Map<number, number>,
): { le: number; cumulative: number }[] {
  return [...now.entries()]
    .map(([le, count]) => ({
      le,
      cumulative: Math.max(0, count - (before.get(le) ?? 0)),
    }))
    .sort((a, b) => a.le - b.le);
}

/**
 * The q-quantile of a cumulative histogram, interpolated linearly within its
 * bucket as Prometheus' histogram_quantile does; the highest finite bound
 * when it falls in the +Inf bucket; null without observations.
 */
export function quantile(
  buckets: readonly { le: number; cumulative: number }[],
  q: number,
): number | null {
  const total = buckets.at(-1)?.cumulative ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const { le, cumulative } of buckets) {
    if (cumulative >= rank) {
      if (le === Infinity) return lowerBound;
      const inBucket = cumulative - lowerCount;
      return inBucket === 0
        ? le
        : lowerBound + (le - lowerBound) * (rank - lowerCount) / inBucket;
    }
    lowerBound = le;
    lowerCount = cumulative;
  }
  return lowerBound;
}
