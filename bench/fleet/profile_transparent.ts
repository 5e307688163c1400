// Profiles the relay on one path of the transparent-call scenario: the same
// processes as `deno task bench --only transparent`, the client measuring
// that path alone, the relay's CPU profile taken over the measured round of
// each load (1 KiB unary calls one after the other, then 64 KiB messages
// with 16 in flight on one stream). Prints the relay's self time grouped by
// where the code lives, and the top functions, per load; writes the
// .cpuprofile files.
// Usage:
//   deno run -A bench/fleet/profile_transparent.ts \
//     [transparent-h2|transparent-quic|envelope-h2|envelope-quic] [OUT_DIR]
import {
  type CpuProfile,
  hotFunctions,
  RelayProfiler,
} from "./relay_profiler.ts";
import { sampleProcess } from "./process_stats.ts";
import { startTransparentRig } from "./transparent_targets.ts";
import { type WorkerLine, WorkerProcess } from "./worker_process.ts";

const path = Deno.args[0] ?? "transparent-h2";
const outDir = Deno.args[1] ?? ".";
const CALLS = 3000;
const STREAM_MS = 5000;

/** Where a function's code lives, from its script URL. */
function area(url: string, name: string): string {
  if (name === "(garbage collector)") return "GC";
  if (name === "(program)") return "(program: native, outside JS)";
  if (url.includes("@grpc/grpc-js")) return "grpc-js";
  if (url.includes("protobufjs")) return "protobufjs";
  if (/tls|_stream_wrap|tcp_wrap|stream_base/i.test(url)) {
    return "node:tls, net (Deno polyfills)";
  }
  if (/http2/i.test(url)) return "node:http2 (Deno polyfill)";
  if (url.startsWith("node:") || url.includes("deno_node")) {
    return "other node polyfills (streams, buffer, events)";
  }
  if (/\/(src|transports)\//.test(url)) return "relay code (src/, transports/)";
  if (url.startsWith("ext:")) return "Deno runtime (ext:)";
  // Built-ins without a script: writeBuffer, writev, readBuffer (TLS),
  // op_write, receive.
  return url === "" ? "native socket and TLS reads, writes" : "other";
}

function byArea(profile: CpuProfile): [string, number][] {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, index) => {
    const frame = nodes.get(id)!.callFrame;
    if (frame.functionName === "(idle)") return;
    const us = profile.timeDeltas[index] ?? 0;
    busy += us;
    const key = area(frame.url, frame.functionName);
    totals.set(key, (totals.get(key) ?? 0) + us);
  });
  return [...totals].map(([key, us]) => [key, us / busy] as [string, number])
    .sort((a, b) => b[1] - a[1]);
}

const rig = await startTransparentRig(
  (text) => console.error(`[profile] ${text}`),
  { inspect: true },
);
try {
  const specs = rig.specs.filter((spec) => spec.name === path);
  if (specs.length === 0) throw new Error(`no path ${path}`);
  const profiler = await RelayProfiler.attach(rig.relay.inspectPort!);
  const client = new WorkerProcess("./transparent_client_worker.ts", [
    ...["--ca", rig.caFile, "--count", String(CALLS), "--warmup", "300"],
    ...["--rounds", "1", "--stream-rounds", "1"],
    ...["--duration-ms", String(STREAM_MS), "--warmup-ms", "1000"],
  ], { env: { BENCH_TRANSPARENT_TARGETS: JSON.stringify(specs) } });
  let steps = Promise.resolve();
  let relayCpuAtStart = 0;
  client.onLine((line: WorkerLine) => {
    if (line.type !== "mark") return;
    const phase = String(line.phase);
    steps = steps.then(async () => {
      if (line.event === "start") {
        relayCpuAtStart = (await sampleProcess(rig.relay.pid)).cpuSeconds;
        await profiler.startCpu();
        return;
      }
      const profile = await profiler.stopCpu();
      const relayCpu = (await sampleProcess(rig.relay.pid)).cpuSeconds -
        relayCpuAtStart;
      const file = `${outDir}/relay-${path}-${phase}.cpuprofile`;
      await Deno.writeTextFile(file, JSON.stringify(profile));
      const wallS = (profile.endTime - profile.startTime) / 1e6;
      console.log(
        `\n${path} ${phase}: relay ${relayCpu.toFixed(2)} s CPU in ` +
          `${wallS.toFixed(2)} s` +
          (phase === "unary"
            ? ` (${Math.round(relayCpu * 1e6 / CALLS)} µs per call)`
            : ` (${(relayCpu / wallS).toFixed(2)} cores)`) +
          `; ${file}`,
      );
      for (const [key, share] of byArea(profile)) {
        console.log(`${(share * 100).toFixed(1).padStart(5)} % ${key}`);
      }
      console.log("top functions (self time):");
      for (const hot of hotFunctions(profile, 15)) {
        console.log(
          `${
            (hot.share * 100).toFixed(1).padStart(5)
          } % ${hot.name} ${hot.where}`,
        );
      }
    });
  });
  const result = await client.waitFor(
    (m) => m.type === "result",
    120_000,
    "the result",
  );
  await steps;
  profiler.close();
  const figures = result as unknown as Record<
    "unary" | "stream",
    Record<string, { latency: { p50Ms: number }; megabytesPerSecond: number }>
  >;
  console.log(
    `\n${path}: unary p50 ${
      figures.unary[path]?.latency.p50Ms.toFixed(3)
    } ms, ` +
      `stream ${figures.stream[path]?.megabytesPerSecond.toFixed(1)} MB/s`,
  );
  await client.close();
} finally {
  await rig.close();
}
