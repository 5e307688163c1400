// The system under test: an in-process relay on ephemeral loopback ports
// with real TLS (dev PKI in a temporary state directory), one echo device
// agent and one controller client, built the way test/harness.ts does it.
import { buildConfig } from "../src/config/load_config.ts";
import { Logger } from "../src/observability/logger.ts";
import type { DeviceCallSession } from "../src/sdk/controller_client.ts";
import { RelayStore } from "../src/store/relay_store.ts";
import {
  ControllerClient,
  controllerConnector,
  DeviceAgent,
  deviceConnector,
  echoHandler,
  type RunningRelay,
  startRelay,
} from "../src/main.ts";
import type { DirectTls } from "./direct_echo_server.ts";

export const BENCH_DEVICE_ID = "bench-device";

export interface RelayFixture {
  relay: RunningRelay;
  /** The relay's dev TLS material, reused for the direct reference. */
  tls: DirectTls;
  /** A ConnectToDevice stream to the echo device through the relay. */
  session: DeviceCallSession;
  close(): Promise<void>;
}

/** `overrides`: extra dotted config keys, e.g. { "relay.idempotency.ttl_seconds": 1 }. */
export async function startRelayFixture(
  overrides: Record<string, unknown> = {},
): Promise<RelayFixture> {
  const stateDir = await Deno.makeTempDir({ prefix: "relay-bench-" });
  let relay: RunningRelay;
  try {
    const config = buildConfig({}, {}, {
      "relay.address": "127.0.0.1:0",
      "relay.state_dir": stateDir,
      "observability.health.address": "127.0.0.1:0",
      "relay.shutdown_grace_seconds": 1,
      ...overrides,
    });
    relay = await startRelay(config, {
      logger: new Logger({ level: "error" }),
    });
  } catch (error) {
    await Deno.remove(stateDir, { recursive: true });
    throw error;
  }
  const closers: (() => Promise<void> | void)[] = [
    () => Deno.remove(stateDir, { recursive: true }),
    () => relay.shutdown(),
  ];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer();
  };
  try {
    const store = new RelayStore(relay.paths.database);
    let credential: string;
    try {
      credential = store.registerDevice(BENCH_DEVICE_ID, "default");
    } finally {
      store.close();
    }
    const transport = { address: relay.grpcAddress, caPem: relay.caPem };
    const agent = new DeviceAgent({
      connector: deviceConnector(transport),
      deviceId: BENCH_DEVICE_ID,
      token: credential,
    });
    agent.handle("*", echoHandler);
    closers.push(() => agent.close());
    const connected = agent.waitFor("connected");
    agent.start();
    await connected;

    const client = new ControllerClient({
      connector: controllerConnector(transport),
      token: relay.adminToken,
    });
    closers.push(() => client.close());
    const session = client.openSession(BENCH_DEVICE_ID);
    closers.push(() => session.close());

    const tls: DirectTls = {
      caPem: await Deno.readTextFile(relay.paths.caCert),
      certPem: await Deno.readTextFile(relay.paths.serverCert),
      keyPem: await Deno.readTextFile(relay.paths.serverKey),
    };
    return { relay, tls, session, close };
  } catch (error) {
    await close();
    throw error;
  }
}
