// Runs one scenario against both targets: a byte-exact check, a warm-up,
// then `rounds` alternating rounds (direct/relay, then relay/direct, ...),
// so that load from other processes and the JIT's warm-up hit both sides
// alike and the relay/direct ratio stays meaningful on a shared machine.
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

export type Target = "direct" | "relay";
export const TARGETS: readonly Target[] = ["direct", "relay"];

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
  results: Record<Target, LoadResult>;
  /** Process RSS after the scenario, in MiB. */
  rssMiBAfter: number;
}

export async function runScenario(
  scenario: Scenario,
  calls: Record<Target, EchoCall>,
  plan: ScenarioPlan,
  progress: (text: string) => void = () => {},
): Promise<ScenarioResult> {
  const payload = benchPayload(scenario.payloadBytes);
  const measure = (target: Target, round: number) => {
    if (scenario.kind === "sequential") {
      return measureSequential(
        calls[target],
        payload,
        share(plan.count, plan.rounds, round),
      );
    }
    return measureWindowed(
      calls[target],
      payload,
      scenario.window,
      plan.durationMs / plan.rounds,
    );
  };

  for (const target of TARGETS) {
    progress(`${scenario.id}: warm-up ${target}`);
    checkEcho(payload, await calls[target](payload));
    if (scenario.kind === "sequential") {
      await measureSequential(calls[target], payload, plan.warmup);
    } else if (plan.warmupMs > 0) {
      await measureWindowed(
        calls[target],
        payload,
        scenario.window,
        plan.warmupMs,
      );
    }
  }
  const rounds: Record<Target, Measurement[]> = { direct: [], relay: [] };
  for (let round = 0; round < plan.rounds; round++) {
    const order = round % 2 === 0 ? TARGETS : [...TARGETS].reverse();
    for (const target of order) {
      progress(`${scenario.id}: round ${round + 1}/${plan.rounds} ${target}`);
      rounds[target].push(await measure(target, round));
    }
  }
  return {
    ...scenario,
    results: {
      direct: combine(rounds.direct, scenario.payloadBytes),
      relay: combine(rounds.relay, scenario.payloadBytes),
    },
    rssMiBAfter: Deno.memoryUsage().rss / 2 ** 20,
  };
}

/** Round `round`'s part of `total` split over `rounds` (remainder first). */
function share(total: number, rounds: number, round: number): number {
  return Math.floor(total / rounds) + (round < total % rounds ? 1 : 0);
}
