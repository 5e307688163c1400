// The relay's memory over a long run: RSS, V8 heap used and external memory
// (array buffers and other native memory V8 is told about), sampled from its
// /metrics every few seconds, and their trend. A leak shows as a steady slope
// after warm-up; a relay that tracks its work settles at a level instead.
// Sampled as found, the figures follow V8's collection schedule (garbage
// piles up for a minute, then a full collection returns 50 MB at once), so a
// sampler can collect garbage first and measure what the relay holds on to.
import type { RelayProcess } from "./relay_process.ts";

export interface MemorySample {
  /** Seconds since sampling started. */
  atSeconds: number;
  rssBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
}

export type MemoryArea = "rssBytes" | "heapUsedBytes" | "externalBytes";

export interface MemorySampler {
  /** Stops sampling; the samples so far (throws if the relay stopped answering). */
  stop(): Promise<MemorySample[]>;
}

export interface MemorySamplerOptions {
  intervalMs: number;
  /** Runs before each sample (e.g. a full garbage collection). */
  beforeSample?: () => Promise<void>;
}

/** Samples the relay's memory now and every `intervalMs` until stopped. */
export function sampleMemory(
  relay: RelayProcess,
  options: MemorySamplerOptions,
): MemorySampler {
  const samples: MemorySample[] = [];
  const started = performance.now();
  let failure: unknown;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      try {
        await options.beforeSample?.();
        const memory = await relay.memory();
        samples.push({
          atSeconds: (performance.now() - started) / 1000,
          rssBytes: memory.rss ?? NaN,
          heapUsedBytes: memory.heap_used ?? NaN,
          externalBytes: memory.external ?? NaN,
        });
      } catch (error) {
        failure ??= error;
      }
      await new Promise<void>((resolve) => {
        if (stopped) return resolve();
        wake = resolve;
        timer = setTimeout(resolve, options.intervalMs);
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await loop;
      if (failure !== undefined) {
        throw new Error("the relay stopped answering /metrics", {
          cause: failure,
        });
      }
      return samples;
    },
  };
}

const MB = 1e6;

/** Least-squares slope of `area` over the samples from `fromSeconds` on, in MB per minute. */
export function slopeMbPerMinute(
  samples: readonly MemorySample[],
  area: MemoryArea,
  fromSeconds: number,
): number {
  const points = samples.filter((s) => s.atSeconds >= fromSeconds);
  if (points.length < 2) return NaN;
  const meanX = mean(points.map((p) => p.atSeconds));
  const meanY = mean(points.map((p) => p[area]));
  let covariance = 0;
  let variance = 0;
  for (const point of points) {
    covariance += (point.atSeconds - meanX) * (point[area] - meanY);
    variance += (point.atSeconds - meanX) ** 2;
  }
  return variance === 0 ? NaN : (covariance / variance) * 60 / MB;
}

/** Last minus first sample of `area` from `fromSeconds` on, in MB. */
export function growthMb(
  samples: readonly MemorySample[],
  area: MemoryArea,
  fromSeconds: number,
): number {
  const points = samples.filter((s) => s.atSeconds >= fromSeconds);
  if (points.length < 2) return NaN;
  return (points.at(-1)![area] - points[0]![area]) / MB;
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}
