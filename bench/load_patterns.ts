// Load patterns used by the benchmark, independent of what answers the
// calls: sequential round trips and a fixed window of pipelined requests.
// Each run yields a Measurement; several (rounds) combine into a LoadResult.
import { addCpu, type CpuSpent, startCpuMeter } from "./cpu_meter.ts";
import { type LatencySummary, summarizeLatencies } from "./latency_stats.ts";

/** One echo round trip: resolves with the bytes that came back. */
export type EchoCall = (payload: Uint8Array) => Promise<Uint8Array>;

export interface Measurement {
  latenciesMs: number[];
  elapsedMs: number;
  cpu: CpuSpent;
}

export interface LoadResult {
  requests: number;
  elapsedMs: number;
  requestsPerSecond: number;
  /** Echoed payload bytes per second (one direction), in MB (10^6 bytes). */
  megabytesPerSecond: number;
  /** Process CPU time (all threads) per request, in microseconds. */
  cpuMicrosPerRequest: number;
  /** Main JS thread on-CPU time per request, in microseconds (null: n/a). */
  mainThreadMicrosPerRequest: number | null;
  /** Share of the wall time the main thread waited for a core (null: n/a). */
  runQueueShare: number | null;
  latency: LatencySummary;
}

export function benchPayload(size: number): Uint8Array {
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
  return payload;
}

/** Throws unless `answer` is a byte-exact echo of `payload`. */
export function checkEcho(payload: Uint8Array, answer: Uint8Array): void {
  if (answer.byteLength !== payload.byteLength) {
    throw new Error(
      `echo returned ${answer.byteLength} bytes, sent ${payload.byteLength}`,
    );
  }
  for (let i = 0; i < payload.byteLength; i++) {
    if (answer[i] !== payload[i]) throw new Error(`echo differs at byte ${i}`);
  }
}

/** `count` round trips, one after the other. */
export async function measureSequential(
  call: EchoCall,
  payload: Uint8Array,
  count: number,
): Promise<Measurement> {
  const latenciesMs: number[] = [];
  const meter = startCpuMeter();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const sent = performance.now();
    const answer = await call(payload);
    latenciesMs.push(performance.now() - sent);
    if (answer.byteLength !== payload.byteLength) checkEcho(payload, answer);
  }
  const elapsedMs = performance.now() - started;
  return { latenciesMs, elapsedMs, cpu: meter.stop() };
}

/**
 * Keeps exactly `window` requests in flight (each completion sends the next)
 * until `durationMs` has passed; the requests still in flight then finish and
 * are counted, and the elapsed time includes them.
 */
export async function measureWindowed(
  call: EchoCall,
  payload: Uint8Array,
  window: number,
  durationMs: number,
): Promise<Measurement> {
  const latenciesMs: number[] = [];
  const meter = startCpuMeter();
  const started = performance.now();
  const deadline = started + durationMs;
  const worker = async () => {
    while (performance.now() < deadline) {
      const sent = performance.now();
      const answer = await call(payload);
      latenciesMs.push(performance.now() - sent);
      if (answer.byteLength !== payload.byteLength) checkEcho(payload, answer);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const elapsedMs = performance.now() - started;
  return { latenciesMs, elapsedMs, cpu: meter.stop() };
}

/** Adds up the rounds of one target into its result. */
export function combine(
  rounds: readonly Measurement[],
  payloadBytes: number,
): LoadResult {
  const latenciesMs = rounds.flatMap((round) => round.latenciesMs);
  const elapsedMs = rounds.reduce((sum, round) => sum + round.elapsedMs, 0);
  const cpu = rounds.map((round) => round.cpu).reduce(addCpu);
  const requests = latenciesMs.length;
  const seconds = elapsedMs / 1000;
  return {
    requests,
    elapsedMs,
    requestsPerSecond: requests / seconds,
    megabytesPerSecond: (requests * payloadBytes) / seconds / 1e6,
    cpuMicrosPerRequest: cpu.processMicros / requests,
    mainThreadMicrosPerRequest: cpu.mainThreadMicros === null
      ? null
      : cpu.mainThreadMicros / requests,
    runQueueShare: cpu.mainRunDelayMicros === null
      ? null
      : cpu.mainRunDelayMicros / 1000 / elapsedMs,
    latency: summarizeLatencies(latenciesMs),
  };
}
