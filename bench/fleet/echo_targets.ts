// The processes behind the one-controller scenarios (hop latency, single
// stream): the relay, one echo device per transport (device_worker.ts), the
// direct grpc-js echo server (direct_echo_worker.ts) and nginx grpc_pass to
// it, each its own OS process; and the client process that measures them.
import type { LoadResult } from "../load_patterns.ts";
import { CleanupStack } from "../cleanup_stack.ts";
import type { EchoTargetSpec } from "./echo_client_worker.ts";
import { type WorkerLine as Message, WorkerProcess } from "./worker_process.ts";
import { startNginxGrpcProxy } from "./nginx_proxy.ts";
import { RelayProcess } from "./relay_process.ts";
import { type ProcessSample, sampleProcess } from "./process_stats.ts";

export type EchoTarget = "h2" | "quic" | "direct" | "nginx";
/** The reference targets that do not go through the relay. */
const REFERENCES = new Set(["direct", "nginx"]);

export interface EchoTargetsOptions {
  relayConfig?: Record<string, unknown>;
  /**
   * Also a session with end-to-end encryption to each echo device, as targets
   * "h2+e2e" and "quic+e2e"; and no references (direct, nginx).
   */
  e2e?: boolean;
}
const TRANSPORTS = ["h2", "quic"] as const;
const worker = (name: string) => new URL(name, import.meta.url).pathname;

export interface EchoTargets {
  relay: RelayProcess;
  /** The echo device process of each transport, by transport. */
  devices: Partial<Record<"h2" | "quic", WorkerProcess>>;
  specs: EchoTargetSpec[];
  caFile: string;
  /** Targets that could not be set up, with the reason. */
  missing: Partial<Record<EchoTarget, string>>;
  close(): Promise<void>;
}

export function echoDeviceId(transport: "h2" | "quic"): string {
  return `echo-${transport}-0`;
}

/**
 * One echo device process on `transport`, connected to `relay` (which must
 * know echoDeviceId(transport)), and the client's spec for reaching it.
 */
export async function startEchoDevice(
  relay: RelayProcess,
  transport: "h2" | "quic",
): Promise<{ device: WorkerProcess; spec: EchoTargetSpec }> {
  const { endpoints } = relay;
  const device = new WorkerProcess(
    worker("./device_worker.ts"),
    [
      ...["--transport", transport, "--grpc", endpoints.grpcAddress],
      ...["--quic", endpoints.quicAddress, "--ca", endpoints.caFile],
      ...["--credentials", endpoints.credentialsFile],
      ...["--prefix", `echo-${transport}-`, "--from", "0", "--count", "1"],
    ],
    { name: `device worker (${transport})` },
  );
  try {
    await device.waitFor(
      (m) => m.type === "status" && m.connected === 1,
      30_000,
      "the device to connect",
    );
  } catch (error) {
    await device.close();
    throw error;
  }
  return {
    device,
    spec: {
      name: transport,
      transport,
      address: endpoints.grpcAddress,
      quicAddress: endpoints.quicAddress,
      serverName: "localhost",
      token: endpoints.adminToken,
      deviceId: echoDeviceId(transport),
    },
  };
}

export async function startEchoTargets(
  progress: (text: string) => void,
  options: EchoTargetsOptions = {},
): Promise<EchoTargets> {
  const relayConfig = options.relayConfig ?? {};
  const cleanup = new CleanupStack();
  try {
    progress("starting the relay process");
    const relay = await RelayProcess.start({
      deviceIds: TRANSPORTS.map(echoDeviceId),
      config: relayConfig,
    });
    cleanup.defer(() => relay.close());
    const { endpoints } = relay;
    const { caFile } = endpoints;
    const specs: EchoTargetSpec[] = [];
    const devices: EchoTargets["devices"] = {};
    for (const transport of TRANSPORTS) {
      progress(`starting the ${transport} echo device process`);
      const { device, spec } = await startEchoDevice(relay, transport);
      cleanup.defer(() => device.close());
      devices[transport] = device;
      specs.push(spec);
      if (options.e2e) {
        specs.push({ ...spec, name: `${transport}+e2e`, e2e: true });
      }
    }
    if (options.e2e) {
      const close = () => cleanup.closeAll();
      return { relay, devices, specs, caFile, missing: {}, close };
    }
    progress("starting the direct echo server process");
    const direct = new WorkerProcess(
      worker("./direct_echo_worker.ts"),
      [
        ...["--ca", caFile, "--cert", endpoints.certFile],
        ...["--key", endpoints.keyFile],
      ],
      { name: "direct echo worker" },
    );
    cleanup.defer(() => direct.close());
    const ready = await direct.waitFor(
      (m) => m.type === "ready",
      30_000,
      "its port",
    );
    const directAddress = String(ready.address);
    // The echo server ignores the token and the device id.
    const reference = (name: string, address: string): EchoTargetSpec => ({
      name,
      transport: "h2",
      address,
      serverName: "localhost",
      token: "",
      deviceId: "echo",
    });
    specs.push(reference("direct", directAddress));
    const missing: Partial<Record<EchoTarget, string>> = {};
    try {
      progress("starting nginx (grpc_pass to the direct echo server)");
      const nginx = await startNginxGrpcProxy({
        upstream: directAddress,
        certFile: endpoints.certFile,
        keyFile: endpoints.keyFile,
        caFile,
      });
      cleanup.defer(() => nginx.close());
      specs.push(reference("nginx", nginx.address));
    } catch (error) {
      missing.nginx = (error as Error).message;
      progress(`nginx reference skipped: ${missing.nginx}`);
    }
    const close = () => cleanup.closeAll();
    return { relay, devices, specs, caFile, missing, close };
  } catch (error) {
    await cleanup.closeAll();
    throw error;
  }
}

export interface ClientRun {
  /** By target name (EchoTarget, or "h2+e2e" and "quic+e2e"). */
  results: Partial<Record<string, LoadResult>>;
  errors: Partial<Record<string, string>>;
  /** Relay CPU (share of one core) while each relay target was measured. */
  relayCores: Partial<Record<string, number>>;
  /** The echo device process's CPU (share of one core), likewise. */
  deviceCores: Partial<Record<string, number>>;
}

/** Runs echo_client_worker.ts over every target; see its usage for `args`. */
export async function runEchoClient(
  targets: EchoTargets,
  args: string[],
  timeoutMs: number,
  progress: (text: string) => void,
): Promise<ClientRun> {
  const client = new WorkerProcess(
    worker("./echo_client_worker.ts"),
    ["--ca", targets.caFile, ...args],
    {
      name: "echo client",
      env: { BENCH_ECHO_TARGETS: JSON.stringify(targets.specs) },
    },
  );
  // Relay and device CPU time, summed over the rounds of each target.
  const relayCpu = new CpuTotals();
  const deviceCpu = new CpuTotals();
  let pending: Promise<unknown> = Promise.resolve();
  client.onLine((message: Message) => {
    if (message.type !== "mark") return;
    const target = String(message.target);
    if (message.event === "start") progress(`measuring ${target}`);
    const device = targets.devices[target.replace("+e2e", "") as "h2"];
    pending = pending.then(async () => {
      const [relay, echo] = await Promise.all([
        targets.relay.sample().catch(() => undefined),
        device ? sampleProcess(device.pid).catch(() => undefined) : undefined,
      ]);
      relayCpu.mark(target, message.event === "start", relay);
      deviceCpu.mark(target, message.event === "start", echo);
    });
  });
  try {
    const result = await client.waitFor(
      (m) => m.type === "result",
      timeoutMs,
      "the result",
    );
    await pending;
    return {
      results: result.results as ClientRun["results"],
      errors: result.errors as ClientRun["errors"],
      relayCores: relayCpu.cores(),
      deviceCores: deviceCpu.cores(),
    };
  } finally {
    await client.close();
  }
}

/** CPU time of one process between start and end marks, summed per target. */
class CpuTotals {
  readonly #totals: Record<string, { seconds: number; wallMs: number }> = {};
  #started: ProcessSample | undefined;

  mark(target: string, start: boolean, sample: ProcessSample | undefined) {
    if (sample === undefined) return;
    if (start) {
      this.#started = sample;
    } else if (this.#started) {
      const total = this.#totals[target] ??= { seconds: 0, wallMs: 0 };
      total.seconds += sample.cpuSeconds - this.#started.cpuSeconds;
      total.wallMs += sample.atMs - this.#started.atMs;
    }
  }

  /** Share of one core while each relay target (not a reference) was measured. */
  cores(): Partial<Record<string, number>> {
    const cores: Partial<Record<string, number>> = {};
    for (const [target, total] of Object.entries(this.#totals)) {
      if (!REFERENCES.has(target) && total.wallMs > 0) {
        cores[target] = total.seconds / (total.wallMs / 1000);
      }
    }
    return cores;
  }
}
