// Summary statistics over latency samples (milliseconds).

export interface LatencySummary {
  count: number;
  meanMs: number;
  minMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentiles over a copy of `samples`. */
export function summarizeLatencies(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const count = sorted.length;
  if (count === 0) {
    return {
      count,
      meanMs: NaN,
      minMs: NaN,
      p50Ms: NaN,
      p90Ms: NaN,
      p99Ms: NaN,
      maxMs: NaN,
    };
  }
  let total = 0;
  for (const sample of sorted) total += sample;
  const rank = (p: number) =>
    sorted[Math.min(count - 1, Math.max(0, Math.ceil(p * count) - 1))]!;
  return {
    count,
    meanMs: total / count,
    minMs: sorted[0]!,
    p50Ms: rank(0.5),
    p90Ms: rank(0.9),
    p99Ms: rank(0.99),
    maxMs: sorted[count - 1]!,
  };
}

/** A Prometheus histogram: cumulative counts by upper bound (+Inf last). */
export type HistogramBuckets = { le: number; count: number }[];

/**
 * Upper bound of the bucket holding the `q` quantile of what was observed
 * between two reads of one histogram (NaN when nothing was).
 */
export function bucketQuantile(
  before: HistogramBuckets,
  after: HistogramBuckets,
  q: number,
): number {
  const observed = after.map((bucket, i) => ({
    le: bucket.le,
    count: bucket.count - (before[i]?.count ?? 0),
  }));
  const total = observed.at(-1)?.count ?? 0;
  if (total === 0) return NaN;
  return observed.find((bucket) => bucket.count >= q * total)!.le;
}
