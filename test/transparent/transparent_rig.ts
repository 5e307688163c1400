// The rig of the transparent-call tests: a relay (test/harness.ts, real TLS
// on port 0), a device-side gRPC server, a device agent whose gRPC target is
// that server, and a grpc-js client of the relay's gRPC port. Each test runs
// once per device transport ("name [h2]", "name [quic]").
import type * as grpc from "@grpc/grpc-js";
import { grpcTarget } from "../../mod.ts";
import type { DeviceAgent } from "../../src/sdk/device_agent.ts";
import { startTestRelay, type TestRelay, TRANSPORTS } from "../harness.ts";
import { PYTHON_GRPC, type SystemTools } from "../system_tools.ts";
import {
  type CallTarget,
  clientFor,
  type RelayGrpcClientOptions,
} from "./relay_grpc_client.ts";
import { type Testsvc, testsvc } from "./testsvc_client.ts";
import { PyTestServer } from "./py_server_process.ts";

/** A device-side gRPC server: py_server_process.ts or js_test_server.ts. */
export interface DeviceServer {
  readonly address: string;
  close(): Promise<void>;
}

export interface Rig {
  t: TestRelay;
  /** The device whose agent forwards to `server`. */
  deviceId: string;
  agent: DeviceAgent;
  server: DeviceServer;
  /** grpc-js client of the relay's gRPC port (closed by the rig). */
  client: grpc.Client;
  svc: Testsvc;
  /** The device, with the admin token (override any field). */
  target(overrides?: Partial<CallTarget>): CallTarget;
  /** Another grpc-js client of the relay, closed by the rig. */
  newClient(options?: RelayGrpcClientOptions): grpc.Client;
  /** Another device agent with a gRPC target (closed by the harness). */
  addDevice(
    deviceId: string,
    target?: { address: string } | null,
  ): Promise<DeviceAgent>;
}

export interface RigOptions<S extends DeviceServer> {
  /** Starts the device's own server (once per test). */
  server: () => Promise<S>;
  /** Dotted relay config keys. */
  config?: Record<string, unknown>;
  /** Register through these tools (tests that need a system tool). */
  tools?: SystemTools;
}

export const DEVICE_ID = "grpc-dev-1";

export async function startRig<S extends DeviceServer>(
  transport: (typeof TRANSPORTS)[number],
  options: RigOptions<S>,
): Promise<Rig & { server: S; close(): Promise<void> }> {
  const server = await options.server();
  let t: TestRelay | undefined;
  const clients: grpc.Client[] = [];
  try {
    t = await startTestRelay({ transport, config: options.config ?? {} });
    const relay = t;
    const addDevice: Rig["addDevice"] = (deviceId, target = server) =>
      relay.device(deviceId, {
        echo: false,
        ...(target === null
          ? {}
          : { grpcTarget: grpcTarget({ address: target.address }) }),
      });
    const agent = await addDevice(DEVICE_ID);
    const newClient = (clientOptions?: RelayGrpcClientOptions) => {
      const client = clientFor(relay, clientOptions);
      clients.push(client);
      return client;
    };
    const client = newClient();
    return {
      t,
      deviceId: DEVICE_ID,
      agent,
      server,
      client,
      svc: testsvc(client),
      target: (overrides = {}) => ({
        deviceId: DEVICE_ID,
        token: relay.relay.adminToken,
        ...overrides,
      }),
      newClient,
      addDevice,
      async close() {
        for (const c of clients) c.close();
        await relay.close();
        await server.close();
      },
    };
  } catch (error) {
    for (const c of clients) c.close();
    await t?.close();
    await server.close();
    throw error;
  }
}

/** A test run once per device transport against a fresh rig. */
export function rigTest<S extends DeviceServer>(
  name: string,
  options: RigOptions<S>,
  body: (rig: Rig & { server: S }) => Promise<void>,
): void {
  for (const transport of TRANSPORTS) {
    const definition = {
      name: `${name} [${transport}]`,
      async fn() {
        const rig = await startRig(transport, options);
        try {
          await body(rig);
        } finally {
          await rig.close();
        }
      },
    };
    if (options.tools) options.tools.test(definition);
    else Deno.test(definition);
  }
}

/** Rig options for tests against py_test_server.py (needs python3-grpcio). */
export function pythonServer(
  tools: SystemTools,
  config: Record<string, unknown> = {},
): RigOptions<PyTestServer> {
  return {
    server: () => PyTestServer.start(tools.path("python")),
    config,
    tools,
  };
}

export { PYTHON_GRPC };
