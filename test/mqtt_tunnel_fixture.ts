// Shared setup of the MQTT tunnel tests: a Mosquitto broker, a relay whose
// MQTT tunnels dial it, a connected device agent and the device's local
// MQTT listener, plus small helpers for mqtt.js and the mosquitto clients.
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { deviceConnector } from "../src/main.ts";
import type { RelayError } from "../src/errors/relay_error.ts";
import type { DeviceAgent } from "../src/sdk/device_agent.ts";
import { MqttTunnelListener } from "../src/sdk/mqtt_tunnel_listener.ts";
import {
  startTestRelay,
  type TestRelay,
  type TestTransport,
  TRANSPORTS,
} from "./harness.ts";
import { type Mosquitto, startMosquitto } from "./mosquitto_fixture.ts";

export interface TunnelFixture {
  t: TestRelay;
  broker: Mosquitto;
  deviceId: string;
  token: string;
  agent: DeviceAgent;
  listener: MqttTunnelListener;
  /** mqtt://127.0.0.1:<port> of the device's local listener. */
  url: string;
  port: number;
  /** Errors the listener reported for its tunnels. */
  tunnelErrors: RelayError[];
  /** A listener of the same device with another credential (or options). */
  extraListener(
    options: { token?: string },
  ): { url: string; errors: RelayError[] };
}

/** Runs `body` once per transport as "name [h2]" / "name [quic]". */
export function tunnelTest(
  name: string,
  body: (f: TunnelFixture) => Promise<void>,
  options: { config?: Record<string, unknown> } = {},
): void {
  for (const transport of TRANSPORTS) {
    Deno.test(`${name} [${transport}]`, async () => {
      await withTunnel(transport, body, options.config);
    });
  }
}

export async function withTunnel(
  transport: TestTransport,
  body: (f: TunnelFixture) => Promise<void>,
  config: Record<string, unknown> = {},
): Promise<void> {
  const broker = await startMosquitto();
  const listeners: MqttTunnelListener[] = [];
  let t: TestRelay | undefined;
  try {
    t = await startTestRelay({
      transport,
      brokerDialer: broker.dialer,
      config,
    });
    const deviceId = "dev-1";
    const token = t.registerDevice(deviceId);
    const connector = deviceConnector(t.clientOptions);
    const agent = await t.device(deviceId, { connector, token });
    const open = (listenerToken: string) => {
      const errors: RelayError[] = [];
      const listener = new MqttTunnelListener({
        connector,
        deviceId,
        token: listenerToken,
        port: 0,
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
      extraListener: (options) => open(options.token ?? token),
    });
  } finally {
    await Promise.all(listeners.map((listener) => listener.close()));
    await t?.close();
    await broker.close();
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
