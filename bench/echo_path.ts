// The client ends of one echo path through the relay: an echo device agent
// and a controller session to it, both on the same transport (h2 or quic).
import type { ClientTransportOptions } from "../src/cli/wiring.ts";
import type { DeviceCallSession } from "../src/sdk/controller_client.ts";
import {
  ControllerClient,
  controllerConnector,
  DeviceAgent,
  deviceConnector,
  echoHandler,
  type RunningRelay,
} from "../mod.ts";
import { withDeadline } from "../test/with_deadline.ts";
import type { RelayFixture } from "./relay_fixture.ts";

export type BenchTransport = "h2" | "quic";
export const BENCH_TRANSPORTS: readonly BenchTransport[] = ["h2", "quic"];

const CONNECT_DEADLINE_MS = 10_000;

/**
 * The TLS name verified: every dev certificate has it, and the HTTP/2
 * client cannot verify a relay at a non-loopback IP by its address.
 */
export const BENCH_SERVER_NAME = "localhost";

/** Client settings that pin one transport (no happy-eyeballs fallback). */
export function transportOptions(
  relay: RunningRelay,
  transport: BenchTransport,
): ClientTransportOptions {
  return {
    address: relay.grpcAddress,
    quicAddress: relay.quicAddress,
    caPem: relay.caPem,
    serverName: BENCH_SERVER_NAME,
    transport,
  };
}

export interface ControllerEnd {
  /** A ConnectToDevice stream to the device. */
  session: DeviceCallSession;
  close(): Promise<void>;
}

/** A controller client over `transport` with one session to `deviceId`. */
export function openControllerEnd(
  relay: RunningRelay,
  transport: BenchTransport,
  deviceId: string,
): ControllerEnd {
  const client = new ControllerClient({
    connector: controllerConnector(transportOptions(relay, transport)),
    token: relay.adminToken,
    // The relay only forwards bytes: measure it, not the clients' HPKE work.
    e2e: false,
  });
  const session = client.openSession(deviceId);
  return {
    session,
    async close() {
      await session.close();
      await client.close();
    },
  };
}

/** An in-process echo device agent, connected as `client` says. */
export async function startEchoAgent(
  client: ClientTransportOptions,
  device: { id: string; credential: string },
): Promise<{ close(): Promise<void> }> {
  const agent = new DeviceAgent({
    connector: deviceConnector(client),
    deviceId: device.id,
    token: device.credential,
    allowPlaintext: true, // the controller end sends plaintext (see above)
  });
  agent.handle("*", echoHandler);
  const connected = agent.waitFor("connected");
  agent.start();
  try {
    await withDeadline(
      connected,
      CONNECT_DEADLINE_MS,
      `device ${device.id} over ${client.transport}`,
    );
  } catch (error) {
    await agent.close();
    throw error;
  }
  return { close: () => agent.close() };
}

/** Device agent and controller session on `transport`, in this process. */
export async function openEchoPath(
  fixture: RelayFixture,
  transport: BenchTransport,
): Promise<ControllerEnd> {
  const id = `bench-device-${transport}`;
  const agent = await startEchoAgent(
    transportOptions(fixture.relay, transport),
    {
      id,
      credential: fixture.registerDevice(id),
    },
  );
  const controller = openControllerEnd(fixture.relay, transport, id);
  return {
    session: controller.session,
    async close() {
      await controller.close();
      await agent.close();
    },
  };
}
