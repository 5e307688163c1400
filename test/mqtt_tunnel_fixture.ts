// Shared setup of the MQTT tunnel tests: the relay's broker (its embedded
// aedes through the relay's own dialer, or an external Mosquitto through a
// TCP dialer), a connected device agent and the device's local MQTT
// listener, plus small helpers for mqtt.js and the mosquitto clients.
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { deviceConnector } from "../mod.ts";
import type { RelayError } from "../src/errors/relay_error.ts";
import type { BrokerDialer } from "../src/mqtt/mqtt_ports.ts";
import type { DeviceAgent } from "../src/sdk/device_agent.ts";
import { MqttTunnelListener } from "../src/sdk/mqtt_tunnel_listener.ts";
import {
  startTestRelay,
  type TestRelay,
  type TestTransport,
  TRANSPORTS,
} from "./harness.ts";
import { type Mosquitto, startMosquitto } from "./mosquitto_fixture.ts";
import {
  MOSQUITTO,
  MOSQUITTO_CLIENTS,
  type SystemTool,
  SystemTools,
} from "./system_tools.ts";

/** The external broker and the mosquitto_pub/_sub clients, when installed. */
export const tools = await SystemTools.check(MOSQUITTO, MOSQUITTO_CLIENTS);

/** The relay's embedded broker, or an external Mosquitto. */
export type BrokerKind = "embedded" | "mosquitto";
export const BROKERS: readonly BrokerKind[] = ["embedded", "mosquitto"];

export interface BrokerUnderTest {
  readonly kind: BrokerKind;
  /** mqtt://127.0.0.1:<port> for clients outside the tunnel. */
  readonly url: string;
  readonly port: number;
  /** Broker connections the relay's tunnels opened so far. */
  readonly dialed: number;
  /** Bytes the relay read from the broker, per tunnel connection (dial order). */
  readonly bytesRead: readonly number[];
}

export interface ExtraListener {
  listener: MqttTunnelListener;
  url: string;
  port: number;
  errors: RelayError[];
}

export interface TunnelFixture {
  t: TestRelay;
  broker: BrokerUnderTest;
  deviceId: string;
  token: string;
  agent: DeviceAgent;
  listener: MqttTunnelListener;
  /** mqtt://127.0.0.1:<port> of the device's local listener. */
  url: string;
  port: number;
  /** Errors the listener reported for its tunnels. */
  tunnelErrors: RelayError[];
  /** Another listener of the device, with another credential or options. */
  extraListener(
    options: { token?: string; clientStallTimeoutMs?: number },
  ): ExtraListener;
}

/** Runs `body` per transport and broker, as "name [h2, embedded]" etc. */
export function tunnelTest(
  name: string,
  body: (f: TunnelFixture) => Promise<void>,
  options: {
    config?: Record<string, unknown>;
    /** Default: every broker. */
    brokers?: readonly BrokerKind[];
    /** System tools the body runs (e.g. MOSQUITTO_CLIENTS); the mosquitto broker adds MOSQUITTO. */
    needs?: readonly SystemTool[];
  } = {},
): void {
  const { brokers = BROKERS, config, needs = [] } = options;
  for (const transport of TRANSPORTS) {
    for (const broker of brokers) {
      tools.test({
        name: `${name} [${transport}, ${broker}]`,
        needs: [...needs, ...brokerNeeds(broker)],
        fn: async () => {
          await withTunnel(
            { transport, broker, ...(config ? { config } : {}) },
            body,
          );
        },
      });
    }
  }
}

/** The system tools a broker kind needs: none for the embedded one. */
export function brokerNeeds(broker: BrokerKind): SystemTool[] {
  return broker === "mosquitto" ? [MOSQUITTO] : [];
}

/**
 * MQTT versions the broker speaks: the embedded aedes only 3.1.1 (it
 * refuses 5.0 CONNECTs), Mosquitto 3.1.1 and 5.0.
 */
export function versionsOf(broker: BrokerUnderTest): ("311" | "5")[] {
  return broker.kind === "embedded" ? ["311"] : ["311", "5"];
}

/**
 * Wraps the dialer the relay's tunnels use and counts the bytes they read
 * from the broker (pull-through: it adds no buffering).
 */
function countingDialer(inner: () => BrokerDialer) {
  const bytesRead: number[] = [];
  const dialer: BrokerDialer = {
    async dial() {
      const connection = await inner().dial();
      const index = bytesRead.push(0) - 1;
      return {
        readable: connection.readable.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>(
            {
              transform(chunk, controller) {
                bytesRead[index]! += chunk.byteLength;
                controller.enqueue(chunk);
              },
            },
            undefined,
            { highWaterMark: 0 },
          ),
        ),
        writable: connection.writable,
        close: () => connection.close(),
      };
    },
  };
  return { dialer, bytesRead };
}

export async function withTunnel(
  options: {
    transport: TestTransport;
    broker: BrokerKind;
    config?: Record<string, unknown>;
    /** Replaces the broker's dialer (e.g. one that fails). */
    dialer?: BrokerDialer;
  },
  body: (f: TunnelFixture) => Promise<void>,
): Promise<void> {
  const mosquitto: Mosquitto | undefined = options.broker === "mosquitto"
    ? await startMosquitto(tools.path("mosquitto"))
    : undefined;
  const listeners: MqttTunnelListener[] = [];
  let t: TestRelay | undefined;
  try {
    // The relay's own dialer exists once it started; tunnels dial later.
    const counting = countingDialer(() =>
      options.dialer ?? mosquitto?.dialer ?? t!.relay.mqtt!.dialer
    );
    t = await startTestRelay({
      transport: options.transport,
      brokerDialer: counting.dialer,
      ...(options.config ? { config: options.config } : {}),
    });
    const url = mosquitto?.url ?? t.mqttUrl;
    const broker: BrokerUnderTest = {
      kind: options.broker,
      url,
      port: Number(new URL(url).port),
      get dialed() {
        return counting.bytesRead.length;
      },
      bytesRead: counting.bytesRead,
    };
    const deviceId = "dev-1";
    const token = t.registerDevice(deviceId);
    const connector = deviceConnector(t.clientOptions);
    const agent = await t.device(deviceId, { connector, token });
    const open = (
      listenerToken: string,
      stallMs?: number,
    ): ExtraListener => {
      const errors: RelayError[] = [];
      const listener = new MqttTunnelListener({
        connector,
        deviceId,
        token: listenerToken,
        port: 0,
        ...(stallMs === undefined ? {} : { clientStallTimeoutMs: stallMs }),
        transport: () => agent.state.transport,
        onTunnelError: (error) => errors.push(error),
      });
      listeners.push(listener);
      const { port } = listener.listen();
      return { listener, port, url: `mqtt://127.0.0.1:${port}`, errors };
    };
    const main = open(token);
    await body({
      t,
      broker,
      deviceId,
      token,
      agent,
      listener: main.listener,
      url: main.url,
      port: main.port,
      tunnelErrors: main.errors,
      extraListener: (listenerOptions) =>
        open(
          listenerOptions.token ?? token,
          listenerOptions.clientStallTimeoutMs,
        ),
    });
  } finally {
    await Promise.all(listeners.map((listener) => listener.close()));
    await t?.close();
    await mosquitto?.close();
  }
}

/** An mqtt.js client that never reconnects by itself. */
export function connectMqtt(
  url: string,
  protocolVersion: 4 | 5,
  options: IClientOptions = {},
): Promise<MqttClient> {
  // allowRetries false: a connection closed before CONNACK rejects.
  return mqtt.connectAsync(url, {
    protocolVersion,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  }, false);
}

export interface Received {
  topic: string;
  payload: string;
  qos: number;
}

/** Resolves with the next message on `topic` (or rejects after `timeoutMs`). */
export function nextMessage(
  client: MqttClient,
  topic: string,
  timeoutMs = 5000,
): Promise<Received> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off("message", onMessage);
      reject(new Error(`no message on ${topic} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (
      received: string,
      payload: Uint8Array,
      packet: { qos: number },
    ) => {
      if (received !== topic) return;
      clearTimeout(timer);
      client.off("message", onMessage);
      resolve({
        topic: received,
        payload: new TextDecoder().decode(payload),
        qos: packet.qos,
      });
    };
    client.on("message", onMessage);
  });
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after `timeoutMs`), optionally feeding stdin. */
export async function runCommand(
  command: string,
  args: string[],
  options: { stdin?: Uint8Array; timeoutMs?: number } = {},
): Promise<CommandResult> {
  const child = new Deno.Command(command, {
    args,
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(
    () => child.kill("SIGKILL"),
    options.timeoutMs ?? 15_000,
  );
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const output = await child.output();
  clearTimeout(timer);
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/** mosquitto_pub/_sub arguments for a broker at 127.0.0.1:`port` with MQTT `version`. */
export function mosquittoArgs(port: number, version: "311" | "5"): string[] {
  return [
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-V",
    version === "5" ? "mqttv5" : "mqttv311",
  ];
}
