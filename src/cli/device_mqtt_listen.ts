// `relay device --mqtt-listen HOST:PORT`: the device's local MQTT listener,
// whose client sessions travel through the agent's relay connection to the
// relay's broker (see src/sdk/mqtt_tunnel_listener.ts).
import { RelayError } from "../errors/relay_error.ts";
import type { DeviceAgent } from "../sdk/device_agent.ts";
import type { DeviceConnector } from "../sdk/connector.ts";
import { MqttTunnelListener } from "../sdk/mqtt_tunnel_listener.ts";

export const MQTT_LISTEN_USAGE =
  `  --mqtt-listen H:P      local MQTT listener (e.g. 127.0.0.1:1883); its clients' sessions
                         reach the relay's broker through the relay, under the device's topic ACL`;

export interface MqttListenOptions {
  /** The --mqtt-listen value. */
  address: string;
  connector: DeviceConnector;
  agent: DeviceAgent;
  deviceId: string;
  token: string;
  log: (line: string) => void;
}

/** Starts the listener (throws INVALID_REQUEST or UNAVAILABLE); close it before the agent. */
export function startMqttListener(
  options: MqttListenOptions,
): MqttTunnelListener {
  const match = /^\[?([^\]]*)\]?:(\d{1,5})$/.exec(options.address);
  const port = Number(match?.[2]);
  if (!match || match[1] === "" || port > 65535) {
    throw new RelayError(
      "INVALID_REQUEST",
      `--mqtt-listen: expected HOST:PORT, got ${options.address}`,
    );
  }
  const { agent, deviceId, log } = options;
  const listener = new MqttTunnelListener({
    connector: options.connector,
    deviceId,
    token: options.token,
    hostname: match[1]!,
    port,
    transport: () => agent.state.transport,
    onTunnelError: (error) =>
      log(
        `device ${deviceId}: MQTT tunnel ended: ${error.code}: ${error.message}`,
      ),
  });
  const addr = listener.listen();
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  log(`device ${deviceId}: MQTT listener on ${host}:${addr.port}`);
  return listener;
}
