// An echo device agent in its own process inside the benchmark's network
// namespace (`relay device --echo`, the CLI users run), so its traffic to
// the relay crosses the lossy veth link.
import { fileURLToPath } from "node:url";
import type { RunningRelay } from "../mod.ts";
import { withDeadline } from "../test/with_deadline.ts";
import { BENCH_SERVER_NAME, type BenchTransport } from "./echo_path.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const START_DEADLINE_MS = 30_000;
const STOP_DEADLINE_MS = 5_000;
const KEPT_LINES = 20;

export interface NetnsDeviceOptions {
  namespace: string;
  relay: RunningRelay;
  transport: BenchTransport;
  deviceId: string;
  credential: string;
}

export interface NetnsDevice {
  close(): Promise<void>;
}

/** Starts the device and resolves once it reports "connected" over `transport`. */
export async function startNetnsDevice(
  options: NetnsDeviceOptions,
): Promise<NetnsDevice> {
  const tokenFile = await Deno.makeTempFile({ prefix: "relaybench-token-" });
  await Deno.writeTextFile(tokenFile, options.credential);
  const child = new Deno.Command("ip", {
    args: [
      ...["netns", "exec", options.namespace, Deno.execPath(), "run"],
      ...["--allow-all", "--config", `${REPO_ROOT}deno.json`],
      `${REPO_ROOT}src/main.ts`,
      ...["device", "--echo", "--id", options.deviceId],
      ...["--token-file", tokenFile, "--ca", options.relay.caPath],
      ...["--relay", options.relay.grpcAddress],
      ...["--quic-relay", options.relay.quicAddress],
      ...["--server-name", BENCH_SERVER_NAME],
      ...["--transport", options.transport],
    ],
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const connected = Promise.withResolvers<void>();
  const reading = (async () => {
    const decoder = new TextDecoderStream();
    let partial = "";
    for await (const text of child.stderr.pipeThrough(decoder)) {
      const parts = (partial + text).split("\n");
      partial = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        if (lines.length > KEPT_LINES) lines.shift();
        if (line.includes(`: connected via ${options.transport}`)) {
          connected.resolve();
        }
      }
    }
  })();
  child.status.then((status) =>
    connected.reject(
      new Error(
        `device ${options.deviceId} exited (${status.code}):\n${
          lines.join("\n")
        }`,
      ),
    )
  );
  let stopping: Promise<void> | undefined;
  const close = () => {
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
        await withDeadline(child.status, STOP_DEADLINE_MS, "device stop");
      } catch (_error) {
        // Exited already, or ignores SIGTERM: end it for sure.
        try {
          child.kill("SIGKILL");
        } catch (_exited) {
          // It has exited in between.
        }
        await child.status;
      }
      await reading.catch(() => undefined);
      await Deno.remove(tokenFile).catch(() => undefined);
    })();
    return stopping;
  };
  try {
    await withDeadline(
      connected.promise,
      START_DEADLINE_MS,
      `device ${options.deviceId} over ${options.transport} in ${options.namespace}`,
    );
  } catch (error) {
    await close();
    throw new Error(
      `${(error as Error).message}; its last lines:\n${lines.join("\n")}`,
    );
  }
  return { close };
}
