// Test harness: a real relay on ephemeral loopback ports with real TLS (dev
// PKI in a temporary state directory), plus helpers for devices and
// controllers. Timings are injected in milliseconds through config keys.
import { mintControllerToken, type Role } from "../src/auth/controller_auth.ts";
import { buildConfig } from "../src/config/load_config.ts";
import { Logger } from "../src/observability/logger.ts";
import {
  ControllerClient,
  type ControllerClientOptions,
} from "../src/sdk/controller_client.ts";
import {
  type DeviceKeyPair,
  generateDeviceKey,
} from "../src/e2e/device_key.ts";
import {
  DeviceAgent,
  type DeviceAgentOptions,
  type DeviceHandler,
  echoHandler,
} from "../src/sdk/device_agent.ts";
import { RelayStore } from "../src/store/relay_store.ts";
import type { PresenceEvent } from "../src/core/device_registry.ts";
import {
  controllerConnector,
  deviceConnector,
  type RunningRelay,
  startRelay,
} from "../mod.ts";
import type { ClientTransportOptions } from "../src/cli/wiring.ts";
import type { BrokerDialer } from "../src/mqtt/mqtt_ports.ts";

/** Every transport the contract suite runs over. */
export const TRANSPORTS = ["h2", "quic"] as const;
export type TestTransport = typeof TRANSPORTS[number];

export interface TestRelayOptions {
  /** Transport of the devices and controllers the harness creates (default h2). */
  transport?: TestTransport;
  /** Dotted config keys, e.g. { "relay.presence.suspect_after_seconds": 0.05 }. */
  config?: Record<string, unknown>;
  /** Reuse a state directory (restart tests). */
  stateDir?: string;
  /** Broker connections for MQTT tunnels (see StartRelayOptions). */
  brokerDialer?: BrokerDialer;
}

export interface TestRelay {
  relay: RunningRelay;
  transport: TestTransport;
  /** Connection settings for clients of this relay over the chosen transport. */
  clientOptions: ClientTransportOptions;
  stateDir: string;
  /** mqtt://host:port of the relay's broker for test subscribers ("" when MQTT is off). */
  mqttUrl: string;
  logLines: string[];
  presence: PresenceEvent[];
  /** Registers a device in the relay's store; returns its credential. */
  registerDevice(deviceId: string, project?: string): string;
  token(
    role: Role,
    options?: { id?: string; projects?: string[]; ttlSeconds?: number },
  ): Promise<string>;
  /**
   * Starts a device agent and waits until it is connected. Unlike the SDK's
   * default, harness devices also accept plaintext requests (so relay tests
   * can drive raw controller streams); pass `allowPlaintext: false` for the
   * SDK default. A device id keeps its E2E key across agents of this relay
   * (as a device keeps its key file) unless `e2eKey` says otherwise.
   */
  device(
    deviceId: string,
    options?: Partial<DeviceAgentOptions> & { echo?: boolean },
  ): Promise<DeviceAgent>;
  /** The E2E key pair harness devices with this id use. */
  deviceKey(deviceId: string): Promise<DeviceKeyPair>;
  /**
   * A controller client (admin token by default). E2E is on as in the SDK;
   * pass `{ e2e: false }` to talk to raw devices in plaintext.
   */
  controller(
    token?: string,
    options?: Pick<ControllerClientOptions, "e2e" | "defaultTimeoutMs"> & {
      /** Another transport than the relay's (CallMany needs "h2"). */
      transport?: TestTransport;
    },
  ): ControllerClient;
  close(): Promise<void>;
}

export async function startTestRelay(
  options: TestRelayOptions = {},
): Promise<TestRelay> {
  const stateDir = options.stateDir ??
    await Deno.makeTempDir({ prefix: "relay-test-" });
  const config = buildConfig({}, {}, {
    "relay.address": "127.0.0.1:0",
    "relay.quic_address": "127.0.0.1:0",
    "relay.state_dir": stateDir,
    "observability.health.address": "127.0.0.1:0",
    "relay.shutdown_grace_seconds": 1,
    // Tests run in parallel: the embedded MQTT broker on any free port.
    "relay.mqtt.embedded_address": "127.0.0.1:0",
    ...options.config,
  });
  const logLines: string[] = [];
  const presence: PresenceEvent[] = [];
  const logger = new Logger({
    level: "debug",
    write: (line) => logLines.push(line),
  });
  const relay = await startRelay(config, {
    logger,
    onPresence: (event) => presence.push(event),
    ...(options.brokerDialer ? { brokerDialer: options.brokerDialer } : {}),
  });
  const agents: DeviceAgent[] = [];
  const deviceKeys = new Map<string, Promise<DeviceKeyPair>>();
  const deviceKey = (deviceId: string) => {
    let key = deviceKeys.get(deviceId);
    if (key === undefined) {
      key = generateDeviceKey();
      deviceKeys.set(deviceId, key);
    }
    return key;
  };
  const clients: ControllerClient[] = [];
  const transport = options.transport ?? "h2";
  const clientOptions: ClientTransportOptions = {
    address: relay.grpcAddress,
    quicAddress: relay.quicAddress,
    caPem: relay.caPem,
    transport,
  };

  const registerDevice = (deviceId: string, project = "default") => {
    const store = new RelayStore(relay.paths.database);
    try {
      return store.registerDevice(deviceId, project);
    } finally {
      store.close();
    }
  };

  return {
    relay,
    transport,
    clientOptions,
    stateDir,
    mqttUrl: relay.mqtt?.brokerUrl ?? "",
    logLines,
    presence,
    registerDevice,
    deviceKey,
    async token(role, tokenOptions = {}) {
      const jwt = config.relay.auth.jwt;
      const secret = (await Deno.readTextFile(relay.paths.jwtSecret)).trim();
      return mintControllerToken(
        {
          secret,
          issuer: jwt.issuer,
          audience: jwt.audience,
          clockSkewSeconds: 0,
        },
        {
          controllerId: tokenOptions.id ?? `${role}-controller`,
          role,
          projects: tokenOptions.projects ?? [],
          ttlSeconds: tokenOptions.ttlSeconds ?? 3600,
        },
      );
    },
    async device(deviceId, agentOptions = {}) {
      const { echo = true, ...rest } = agentOptions;
      const agent = new DeviceAgent({
        connector: rest.connector ?? deviceConnector(clientOptions),
        deviceId,
        token: rest.token ?? registerDevice(deviceId),
        backoff: { initialMs: 20, maxMs: 200 },
        allowPlaintext: true,
        e2eKey: rest.e2eKey ?? await deviceKey(deviceId),
        ...rest,
      });
      if (echo) agent.handle("*", echoHandler);
      if (Deno.env.get("DEBUG_AGENT")) {
        agent.onState((s) => console.log("agent", s.state, s.error?.message));
      }
      agents.push(agent);
      const connected = agent.waitFor("connected");
      agent.start();
      await connected;
      return agent;
    },
    controller(token = relay.adminToken, controllerOptions = {}) {
      const { transport: controllerTransport, ...rest } = controllerOptions;
      const client = new ControllerClient({
        connector: controllerConnector({
          ...clientOptions,
          ...(controllerTransport ? { transport: controllerTransport } : {}),
        }),
        token,
        ...rest,
      });
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((client) => client.close()));
      await Promise.all(agents.map((agent) => agent.close()));
      await relay.shutdown();
      if (options.stateDir === undefined) {
        await Deno.remove(stateDir, { recursive: true });
      }
    },
  };
}

export const encode = (text: string): Uint8Array =>
  new TextEncoder().encode(text);
export const decode = (bytes: Uint8Array): string =>
  new TextDecoder().decode(bytes);

/** Polls `condition` every few ms until it holds or `timeoutMs` passes. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 3000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A device handler that never answers; it fails once its request is aborted. */
export const hangUntilAborted: DeviceHandler = (request) =>
  new Promise((_, reject) => {
    request.signal.addEventListener(
      "abort",
      () => reject(request.signal.reason),
    );
  });

/**
 * A contract test: the same body runs against a fresh relay once per
 * transport, as "name [h2]" and "name [quic]".
 */
export function contractTest(
  name: string,
  options: Omit<TestRelayOptions, "transport">,
  body: (t: TestRelay) => Promise<void>,
): void {
  for (const transport of TRANSPORTS) {
    Deno.test(`${name} [${transport}]`, async () => {
      const t = await startTestRelay({ ...options, transport });
      try {
        await body(t);
      } finally {
        await t.close();
      }
    });
  }
}
