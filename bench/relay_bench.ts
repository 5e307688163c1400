// `deno task bench:echo`: echo through an in-process relay over HTTP/2 gRPC (h2)
// and over QUIC (device agent and controller on the same transport, TLS on
// loopback), against the same controller SDK talking to a bare grpc-js echo
// server (direct, no relay), all in one process and one run, each scenario
// on one ConnectToDevice stream per target; then (d) the same echo with
// packet loss on the device link (see loss_scenario.ts).
import { loadavg } from "node:os";
import { type BenchOptions, parseBenchArgs, USAGE } from "./bench_args.ts";
import { type BenchReport, reportJson, reportTable } from "./bench_report.ts";
import { CleanupStack, closeOnSignals } from "./cleanup_stack.ts";
import { startDirectFixture } from "./direct_fixture.ts";
import { BENCH_TRANSPORTS, openEchoPath } from "./echo_path.ts";
import type { EchoCall } from "./load_patterns.ts";
import { runLossScenarios } from "./loss_scenario.ts";
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
  const started = performance.now();
  const cleanup = new CleanupStack();
  const removeSignalHandlers = closeOnSignals(cleanup);
  const warnings = countWarnings();
  cleanup.defer(() => warnings.stop());
  try {
    const fixture = await startRelayFixture({ overrides: options.relayConfig });
    cleanup.defer(() => fixture.close());
    const direct = await startDirectFixture(
      options.directTls ? fixture.tls : null,
    );
    cleanup.defer(() => direct.close());
    const calls: Partial<Record<Target, EchoCall>> = {
      direct: (payload) => direct.session.call("echo", payload),
    };
    for (const transport of BENCH_TRANSPORTS) {
      const path = await openEchoPath(fixture, transport);
      cleanup.defer(() => path.close());
      calls[transport] = (payload) => path.session.call("echo", payload);
    }

    const results: ScenarioResult[] = [];
    for (const scenario of scenarios(options)) {
      results.push(await runScenario(scenario, calls, options, progress));
    }
    const loss = await runLossScenarios(
      {
        method: options.lossMethod,
        percent: options.lossPercent,
        payloadBytes: options.lossKiB * 1024,
        window: options.lossWindow,
        rounds: options.rounds,
        count: 0,
        warmup: 0,
        durationMs: options.lossDurationMs,
        warmupMs: options.warmupMs,
        relayConfig: options.relayConfig,
      },
      fixture,
      cleanup,
      progress,
    );
    results.push(...loss.scenarios);

    const report: BenchReport = {
      environment: {
        revision,
        deno: Deno.version.deno,
        v8: Deno.version.v8,
        cpus: navigator.hardwareConcurrency,
        loadavg_before: Number(loadBefore.toFixed(2)),
        loadavg_after: Number(loadavg()[0]!.toFixed(2)),
        wall_s: Number(((performance.now() - started) / 1000).toFixed(1)),
        relay_tls: true,
        direct_tls: options.directTls,
        loss_method: loss.method,
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
        loss_percent: options.lossPercent,
        loss_kib: options.lossKiB,
        loss_window: options.lossWindow,
        loss_duration_s: options.lossDurationMs / 1000,
      },
      scenarios: results,
      warnings: warnings.counts(),
    };
    console.log(options.json ? reportJson(report) : reportTable(report));
    return 0;
  } finally {
    await cleanup.closeAll();
    removeSignalHandlers();
  }
}

if (import.meta.main) {
  Deno.exitCode = await main(Deno.args);
}
