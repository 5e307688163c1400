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
    for (const transport of TRANSPORTS) {
      progress(`starting the ${transport} echo device process`);
      const { device, spec } = await startEchoDevice(relay, transport);
      cleanup.defer(() => device.close());
      specs.push(spec);
      if (options.e2e) {
        specs.push({ ...spec, name: `${transport}+e2e`, e2e: true });
      }
    }
    if (options.e2e) {
      return {
        relay,
        specs,
        caFile,
        missing: {},
        close: () => cleanup.closeAll(),
      };
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
    return { relay, specs, caFile, missing, close: () => cleanup.closeAll() };
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
  // Relay CPU time, summed over the rounds of each target.
  const cpu: Record<string, { seconds: number; wallMs: number }> = {};
  let pending: Promise<unknown> = Promise.resolve();
  let started: { cpuSeconds: number; atMs: number } | undefined;
  client.onLine((message: Message) => {
    if (message.type !== "mark") return;
    const target = String(message.target);
    if (message.event === "start") progress(`measuring ${target}`);
    pending = pending.then(async () => {
      const sample = await targets.relay.sample().catch(() => undefined);
      if (!sample) return;
      if (message.event === "start") {
        started = sample;
      } else if (started) {
        const total = cpu[target] ??= { seconds: 0, wallMs: 0 };
        total.seconds += sample.cpuSeconds - started.cpuSeconds;
        total.wallMs += sample.atMs - started.atMs;
      }
    });
  });
  try {
    const result = await client.waitFor(
      (m) => m.type === "result",
      timeoutMs,
      "the result",
    );
    await pending;
    const relayCores: Partial<Record<string, number>> = {};
    for (const [target, total] of Object.entries(cpu)) {
      if (!REFERENCES.has(target) && total.wallMs > 0) {
        relayCores[target] = total.seconds / (total.wallMs / 1000);
      }
    }
    return {
      results: result.results as ClientRun["results"],
      errors: result.errors as ClientRun["errors"],
      relayCores,
    };
  } finally {
    await client.close();
  }
}
