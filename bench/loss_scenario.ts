// (d) throughput and latency with packet loss on the device link, for both
// transports alike when a network namespace can be made, otherwise for QUIC
// alone through a UDP forwarder. The same paths are measured without loss
// first, so the cost of the loss reads apart from that of the path itself.
import { forwarderLossyPaths } from "./forwarder_lossy_paths.ts";
import type { CleanupStack } from "./cleanup_stack.ts";
import type { LossyPaths } from "./lossy_paths.ts";
import { netnsLossyPaths } from "./netns_lossy_paths.ts";
import { netnsUnavailable } from "./netns_link.ts";
import type { RelayFixture } from "./relay_fixture.ts";
import {
  runScenario,
  type Scenario,
  type ScenarioPlan,
  type ScenarioResult,
} from "./scenario_runner.ts";

export type LossMethod = "auto" | "netns" | "forwarder" | "off";

export interface LossPlan extends ScenarioPlan {
  method: LossMethod;
  percent: number;
  payloadBytes: number;
  window: number;
  relayConfig: Record<string, unknown>;
}

export interface LossOutcome {
  /** How loss was applied, or why it was not. */
  method: string;
  scenarios: ScenarioResult[];
}

/** `cleanup` also undoes the lossy paths if the run is interrupted. */
export async function runLossScenarios(
  plan: LossPlan,
  loopbackFixture: RelayFixture,
  cleanup: CleanupStack,
  progress: (text: string) => void,
): Promise<LossOutcome> {
  if (plan.method === "off") return { method: "off", scenarios: [] };
  const paths = await openLossyPaths(plan, {
    loopbackFixture,
    cleanup,
    progress,
  });
  try {
    const kib = plan.payloadBytes / 1024;
    const scenario = (percent: number): Scenario => ({
      id: `loss${percent}_${kib}k`,
      title: `(d) ${kib} KiB, window ${plan.window}, ${percent}% loss`,
      kind: "windowed",
      payloadBytes: plan.payloadBytes,
      window: plan.window,
    });
    const results: ScenarioResult[] = [];
    for (const percent of [0, plan.percent]) {
      await paths.setLoss(percent);
      const result = await runScenario(
        scenario(percent),
        paths.calls,
        plan,
        progress,
      );
      const { dropped, offered } = await paths.count();
      results.push({
        ...result,
        missing: paths.missing,
        note: `${paths.method}: ${dropped} of ${offered} packets dropped (${
          (100 * dropped / Math.max(1, offered)).toFixed(2)
        }%), warm-up included`,
      });
    }
    await paths.setLoss(0);
    return { method: paths.method, scenarios: results };
  } finally {
    await paths.close();
  }
}

interface Context {
  loopbackFixture: RelayFixture;
  cleanup: CleanupStack;
  progress: (text: string) => void;
}

async function openLossyPaths(
  plan: LossPlan,
  { loopbackFixture, cleanup, progress }: Context,
): Promise<LossyPaths> {
  const forwarder = (why: string) =>
    forwarderLossyPaths(loopbackFixture, cleanup, why);
  if (plan.method === "forwarder") return forwarder("--loss-method forwarder");
  const unavailable = await netnsUnavailable();
  if (unavailable === null) {
    try {
      return await netnsLossyPaths(plan.relayConfig, cleanup, progress);
    } catch (error) {
      if (plan.method === "netns") throw error;
      progress(`loss: no namespace (${(error as Error).message}), QUIC only`);
      return forwarder((error as Error).message);
    }
  }
  if (plan.method === "netns") {
    throw new Error(`--loss-method netns: ${unavailable}`);
  }
  progress(`loss: no namespace (${unavailable}), QUIC only`);
  return forwarder(unavailable);
}
