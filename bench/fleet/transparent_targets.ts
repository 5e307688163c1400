// The processes behind the transparent-call scenario, each an OS process of
// its own: the relay, the device's own gRPC server
// (transparent_server_worker.ts), one device agent per transport
// (transparent_device_worker.ts: transparent calls to that server and
// envelope echo), nginx grpc_pass to the server's plaintext port; and the
// client process that measures every path (transparent_client_worker.ts),
// with the CPU time of the relay, the path's agent and the server summed
// over the rounds of each path.
import { CleanupStack } from "../cleanup_stack.ts";
import type { LoadResult } from "../load_patterns.ts";
import { startNginxGrpcProxy } from "./nginx_proxy.ts";
import { sampleMachine, sampleProcess } from "./process_stats.ts";
import { RelayProcess } from "./relay_process.ts";
import type {
  Phase,
  TransparentTargetSpec,
} from "./transparent_client_worker.ts";
import { type WorkerLine, WorkerProcess } from "./worker_process.ts";

export type DeviceTransport = "h2" | "quic";
export const DEVICE_TRANSPORTS: readonly DeviceTransport[] = ["h2", "quic"];

/** The paths measured; transparent and envelope go through the relay. */
export type TransparentPath =
  | "direct"
  | "nginx"
  | `transparent-${DeviceTransport}`
  | `envelope-${DeviceTransport}`;

/**
 * The processes whose CPU time is read around each round (not nginx's), and
 * the machine: all its processes and the kernel.
 */
export type Measured = "relay" | "agent" | "server" | "client" | "machine";

const worker = (name: string) => new URL(name, import.meta.url).pathname;

export function transparentDeviceId(transport: DeviceTransport): string {
  return `transparent-${transport}`;
}

export interface TransparentRig {
  relay: RelayProcess;
  specs: TransparentTargetSpec[];
  caFile: string;
  /** The processes each path's CPU time is read from (absent: not on it). */
  pids: Partial<Record<TransparentPath, Partial<Record<Measured, number>>>>;
  /** Paths that could not be set up, with the reason. */
  missing: Partial<Record<TransparentPath, string>>;
  close(): Promise<void>;
}

export async function startTransparentRig(
  progress: (text: string) => void,
  /** inspect: the relay's V8 inspector open (profile_transparent.ts). */
  options: { inspect?: boolean } = {},
): Promise<TransparentRig> {
  const cleanup = new CleanupStack();
  try {
    progress("starting the relay process");
    const relay = await RelayProcess.start({
      deviceIds: DEVICE_TRANSPORTS.map(transparentDeviceId),
      inspect: options.inspect ?? false,
    });
    cleanup.defer(() => relay.close());
    const { endpoints } = relay;
    progress("starting the device's gRPC server process");
    const server = new WorkerProcess(
      worker("./transparent_server_worker.ts"),
      [
        ...["--ca", endpoints.caFile, "--cert", endpoints.certFile],
        ...["--key", endpoints.keyFile],
      ],
      { name: "device gRPC server" },
    );
    cleanup.defer(() => server.close());
    const ready = await server.waitFor(
      (m) => m.type === "ready",
      30_000,
      "its ports",
    );
    const plaintext = String(ready.plaintext);
    const specs: TransparentTargetSpec[] = [
      { name: "direct", kind: "grpc", address: String(ready.tls) },
    ];
    const pids: TransparentRig["pids"] = { direct: { server: server.pid } };
    const missing: TransparentRig["missing"] = {};
    try {
      progress("starting nginx (grpc_pass to the device's plaintext port)");
      const nginx = await startNginxGrpcProxy({
        upstream: plaintext,
        certFile: endpoints.certFile,
        keyFile: endpoints.keyFile,
        caFile: null,
        keepalive: 16,
      });
      cleanup.defer(() => nginx.close());
      specs.push({ name: "nginx", kind: "grpc", address: nginx.address });
      pids.nginx = { server: server.pid };
    } catch (error) {
      missing.nginx = (error as Error).message;
      progress(`nginx reference skipped: ${missing.nginx}`);
    }
    const envelopes: TransparentTargetSpec[] = [];
    for (const transport of DEVICE_TRANSPORTS) {
      progress(`starting the ${transport} device agent process`);
      const deviceId = transparentDeviceId(transport);
      const agent = new WorkerProcess(
        worker("./transparent_device_worker.ts"),
        [
          ...["--transport", transport, "--grpc", endpoints.grpcAddress],
          ...["--quic", endpoints.quicAddress, "--ca", endpoints.caFile],
          ...["--credentials", endpoints.credentialsFile, "--id", deviceId],
          ...["--grpc-target", plaintext],
        ],
        { name: `device agent (${transport})` },
      );
      cleanup.defer(() => agent.close());
      await agent.waitFor(
        (m) => m.type === "status" && m.connected === 1,
        30_000,
        "the device to connect",
      );
      const token = endpoints.adminToken;
      specs.push({
        name: `transparent-${transport}`,
        kind: "grpc",
        address: endpoints.grpcAddress,
        deviceId,
        token,
      });
      envelopes.push({
        name: `envelope-${transport}`,
        kind: "envelope",
        transport,
        address: endpoints.grpcAddress,
        quicAddress: endpoints.quicAddress,
        deviceId,
        token,
      });
      const onPath = { relay: relay.pid, agent: agent.pid, server: server.pid };
      pids[`transparent-${transport}`] = onPath;
      pids[`envelope-${transport}`] = { relay: relay.pid, agent: agent.pid };
    }
    specs.push(...envelopes);
    return {
      relay,
      specs,
      caFile: endpoints.caFile,
      pids,
      missing,
      close: () => cleanup.closeAll(),
    };
  } catch (error) {
    await cleanup.closeAll();
    throw error;
  }
}

/** CPU seconds a process spent while a path was measured, and that wall time. */
export interface CpuTotal {
  seconds: number;
  wallMs: number;
}

export interface TransparentRun {
  results: Record<Phase, Partial<Record<TransparentPath, LoadResult>>>;
  /** "phase path" → message. */
  errors: Record<string, string>;
  cpu: Record<
    Phase,
    Partial<Record<TransparentPath, Partial<Record<Measured, CpuTotal>>>>
  >;
}

/** Runs transparent_client_worker.ts over the rig; see its usage for `args`. */
export async function runTransparentClient(
  rig: TransparentRig,
  args: string[],
  timeoutMs: number,
  progress: (text: string) => void,
): Promise<TransparentRun> {
  const client = new WorkerProcess(
    worker("./transparent_client_worker.ts"),
    ["--ca", rig.caFile, ...args],
    {
      name: "transparent client",
      env: { BENCH_TRANSPARENT_TARGETS: JSON.stringify(rig.specs) },
    },
  );
  const cpu: TransparentRun["cpu"] = { unary: {}, stream: {} };
  let pending: Promise<unknown> = Promise.resolve();
  let started: Partial<Record<Measured, { cpu: number; at: number }>> = {};
  client.onLine((line: WorkerLine) => {
    if (line.type !== "mark") return;
    const phase = line.phase as Phase;
    const path = line.target as TransparentPath;
    if (line.event === "start") progress(`${phase}: measuring ${path}`);
    const pids = [
      ...Object.entries(rig.pids[path] ?? {}),
      ["client", client.pid],
    ] as [Measured, number][];
    const samplers = [
      ...pids.map(([who, pid]) => [who, () => sampleProcess(pid)] as const),
      ["machine", sampleMachine] as const,
    ];
    // In order, so that a round's end never meets the next round's start.
    pending = pending.then(async () => {
      const samples = await Promise.all(
        samplers.map(([who, sample]) =>
          sample().then((s) => [who, s] as const, () => undefined)
        ),
      );
      if (line.event === "start") started = {};
      for (const sample of samples) {
        if (!sample) continue;
        const [who, { cpuSeconds, atMs }] = sample;
        if (line.event === "start") {
          started[who] = { cpu: cpuSeconds, at: atMs };
          continue;
        }
        const from = started[who];
        if (!from) continue;
        const byPath = cpu[phase][path] ??= {};
        const total = byPath[who] ??= { seconds: 0, wallMs: 0 };
        total.seconds += cpuSeconds - from.cpu;
        total.wallMs += atMs - from.at;
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
    return {
      results: {
        unary: result.unary as TransparentRun["results"]["unary"],
        stream: result.stream as TransparentRun["results"]["stream"],
      },
      errors: result.errors as Record<string, string>,
      cpu,
    };
  } finally {
    await client.close();
  }
}
