// Profiles the relay while one controller session echoes 64 KiB requests
// (window 16) through it to one device: prints the throughput and the
// functions with the most self time, and writes the .cpuprofile.
// Usage: deno run -A bench/fleet/profile_stream.ts [h2|quic] [OUT.cpuprofile]
import { echoDeviceId, startEchoDevice } from "./echo_targets.ts";
import { hotFunctions, RelayProfiler } from "./relay_profiler.ts";
import { RelayProcess } from "./relay_process.ts";
import { WorkerProcess } from "./worker_process.ts";

const transport = Deno.args[0] === "quic" ? "quic" : "h2";
const out = Deno.args[1] ?? `relay-stream-${transport}.cpuprofile`;
const worker = (name: string) => new URL(name, import.meta.url).pathname;

const relay = await RelayProcess.start({
  deviceIds: [echoDeviceId(transport)],
  inspect: true,
});
const { endpoints } = relay;
const workers: WorkerProcess[] = [];
try {
  const { device, spec } = await startEchoDevice(relay, transport);
  workers.push(device);
  const profiler = await RelayProfiler.attach(relay.inspectPort!);
  const client = new WorkerProcess(worker("./echo_client_worker.ts"), [
    ...["--ca", endpoints.caFile, "--mode", "windowed", "--payload", "65536"],
    ...["--window", "16", "--rounds", "2", "--duration-ms", "6000"],
    ...["--warmup-ms", "1000"],
  ], { env: { BENCH_ECHO_TARGETS: JSON.stringify([spec]) } });
  workers.push(client);
  await client.waitFor((m) => m.type === "mark", 30_000, "the first round");
  await profiler.startCpu();
  const result = await client.waitFor(
    (m) => m.type === "result",
    60_000,
    "the result",
  );
  const profile = await profiler.stopCpu();
  profiler.close();
  await Deno.writeTextFile(out, JSON.stringify(profile));
  const run =
    (result.results as Record<string, { megabytesPerSecond: number }>)[
      transport
    ];
  console.log(
    `${transport}: ${run?.megabytesPerSecond.toFixed(1)} MB/s; profile: ${out}`,
  );
  for (const hot of hotFunctions(profile, 25)) {
    console.log(
      `${(hot.share * 100).toFixed(1).padStart(5)} % ${hot.name} ${hot.where}`,
    );
  }
} finally {
  await Promise.all(workers.map((w) => w.close()));
  await relay.close();
}
