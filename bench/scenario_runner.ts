// Runs one scenario against every target it is given: a byte-exact check, a
// warm-up, then `rounds` rounds in a rotating order (direct/h2/quic, then
// h2/quic/direct, ...), so that load from other processes and the JIT's
// warm-up hit every target alike and the ratios stay meaningful on a shared
// machine.
import {
  benchPayload,
  checkEcho,
  combine,
  type EchoCall,
  type LoadResult,
  type Measurement,
  measureSequential,
  measureWindowed,
} from "./load_patterns.ts";

/** direct: bare grpc-js echo, no relay; h2 / quic: through the relay. */
export type Target = "direct" | "h2" | "quic";
export const TARGETS: readonly Target[] = ["direct", "h2", "quic"];

export interface Scenario {
  id: string;
  title: string;
  kind: "sequential" | "windowed";
  payloadBytes: number;
  /** Requests in flight (1 for sequential). */
  window: number;
}

export interface ScenarioPlan {
  rounds: number;
  /** Sequential: measured round trips in total, per target. */
  count: number;
  /** Sequential: unmeasured round trips first, per target. */
  warmup: number;
  /** Windowed: measured time in total, per target. */
  durationMs: number;
  /** Windowed: unmeasured time first, per target. */
  warmupMs: number;
}

export interface ScenarioResult extends Scenario {
  /** Only the targets the scenario ran against. */
  results: Partial<Record<Target, LoadResult>>;
  /** Why a target has no result (e.g. h2 under loss without a namespace). */
  missing: Partial<Record<Target, string>>;
  /** A remark for the report, e.g. the loss actually measured. */
  note?: string;
  /** Process RSS after the scenario, in MiB. */
  rssMiBAfter: number;
}

export async function runScenario(
  scenario: Scenario,
  calls: Partial<Record<Target, EchoCall>>,
  plan: ScenarioPlan,
  progress: (text: string) => void = () => {},
): Promise<ScenarioResult> {
  const targets = TARGETS.filter((target) => calls[target] !== undefined);
  const call = (target: Target) => calls[target]!;
  const payload = benchPayload(scenario.payloadBytes);
  const measure = (target: Target, round: number) => {
    if (scenario.kind === "sequential") {
      return measureSequential(
        call(target),
        payload,
        share(plan.count, plan.rounds, round),
      );
    }
    return measureWindowed(
      call(target),
      payload,
      scenario.window,
      plan.durationMs / plan.rounds,
    );
  };

  for (const target of targets) {
    progress(`${scenario.id}: warm-up ${target}`);
    checkEcho(payload, await call(target)(payload));
    if (scenario.kind === "sequential") {
      await measureSequential(call(target), payload, plan.warmup);
    } else if (plan.warmupMs > 0) {
      await measureWindowed(
        call(target),
        payload,
        scenario.window,
        plan.warmupMs,
      );
    }
  }
  const rounds = new Map<Target, Measurement[]>(
    targets.map((target) => [target, []]),
  );
  for (let round = 0; round < plan.rounds; round++) {
    for (const target of rotate(targets, round)) {
      progress(`${scenario.id}: round ${round + 1}/${plan.rounds} ${target}`);
      rounds.get(target)!.push(await measure(target, round));
    }
  }
  const results: Partial<Record<Target, LoadResult>> = {};
  for (const [target, measured] of rounds) {
    results[target] = combine(measured, scenario.payloadBytes);
  }
  return {
    ...scenario,
    results,
    missing: {},
    rssMiBAfter: Deno.memoryUsage().rss / 2 ** 20,
  };
}

/** `items` starting at position `by` (mod length), wrapping around. */
function rotate<T>(items: readonly T[], by: number): T[] {
  const start = items.length === 0 ? 0 : by % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

/** Round `round`'s part of `total` split over `rounds` (remainder first). */
function share(total: number, rounds: number, round: number): number {
  return Math.floor(total / rounds) + (round < total % rounds ? 1 : 0);
}
