// `deno task bench`: echo through an in-process relay (controller SDK ->
// relay -> device agent, HTTP/2 gRPC over loopback TLS) against the same
// controller SDK talking to a bare grpc-js echo server (no relay), in one
// process, each scenario on one ConnectToDevice stream per target, so the
// ratio relay/direct comes from the same run.
import { loadavg } from "node:os";
import { type BenchOptions, parseBenchArgs, USAGE } from "./bench_args.ts";
import { type BenchReport, reportJson, reportTable } from "./bench_report.ts";
import { startDirectFixture } from "./direct_fixture.ts";
import type { EchoCall } from "./load_patterns.ts";
import { startRelayFixture } from "./relay_fixture.ts";
import {
  runScenario,
  type Scenario,
  type ScenarioResult,
  type Target,
} from "./scenario_runner.ts";
import { sourceRevision } from "./source_revision.ts";
import { countWarnings } from "./warning_counter.ts";

function scenarios(options: BenchOptions): Scenario[] {
  return [
    {
      id: "latency_1k",
      title: "(a) 1 KiB sequential",
      kind: "sequential",
      payloadBytes: 1024,
      window: 1,
    },
    {
      id: "rps_64b",
      title: `(b) 64 B, window ${options.window}`,
      kind: "windowed",
      payloadBytes: 64,
      window: options.window,
    },
    {
      id: "rps_1k",
      title: `(b) 1 KiB, window ${options.window}`,
      kind: "windowed",
      payloadBytes: 1024,
      window: options.window,
    },
    {
      id: `bulk_${options.bulkKiB}k`,
      title: `(c) ${options.bulkKiB} KiB, window ${options.bulkWindow}`,
      kind: "windowed",
      payloadBytes: options.bulkKiB * 1024,
      window: options.bulkWindow,
    },
  ];
}

async function main(args: string[]): Promise<number> {
  let options;
  try {
    options = parseBenchArgs(args);
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  const progress = (text: string) => {
    if (!options.json) console.error(text);
  };

  const revision = await sourceRevision();
  const loadBefore = loadavg()[0]!;
  const warnings = countWarnings();
  const closers: (() => Promise<void> | void)[] = [() => warnings.stop()];
  try {
    const relay = await startRelayFixture(options.relayConfig);
    closers.push(() => relay.close());
    const direct = await startDirectFixture(
      options.directTls ? relay.tls : null,
    );
    closers.push(() => direct.close());
    const calls: Record<Target, EchoCall> = {
      direct: (payload) => direct.session.call("echo", payload),
      relay: (payload) => relay.session.call("echo", payload),
    };

    const results: ScenarioResult[] = [];
    for (const scenario of scenarios(options)) {
      results.push(await runScenario(scenario, calls, options, progress));
    }

    const report: BenchReport = {
      environment: {
        revision,
        deno: Deno.version.deno,
        v8: Deno.version.v8,
        cpus: navigator.hardwareConcurrency,
        loadavg_before: Number(loadBefore.toFixed(2)),
        loadavg_after: Number(loadavg()[0]!.toFixed(2)),
        transport: "h2-grpc-loopback",
        relay_tls: true,
        direct_tls: options.directTls,
        relay_config: JSON.stringify(options.relayConfig),
      },
      options: {
        count: options.count,
        warmup: options.warmup,
        duration_s: options.durationMs / 1000,
        warmup_s: options.warmupMs / 1000,
        rounds: options.rounds,
        window: options.window,
        bulk_window: options.bulkWindow,
        bulk_kib: options.bulkKiB,
      },
      scenarios: results,
      warnings: warnings.counts(),
    };
    console.log(options.json ? reportJson(report) : reportTable(report));
    return 0;
  } finally {
    for (const close of closers.reverse()) await close();
  }
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
