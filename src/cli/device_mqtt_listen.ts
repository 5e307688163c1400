// `relay device --mqtt-listen HOST:PORT`: the device's local MQTT listener,
// whose client sessions travel through the agent's relay connection to the
// relay's broker (see src/sdk/mqtt_tunnel_listener.ts).
import { formatHostPort, parseHostPort } from "../config/host_port.ts";
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
  const { host, port } = parseHostPort(options.address, {
    what: "--mqtt-listen",
  });
  const { agent, deviceId, log } = options;
  const listener = new MqttTunnelListener({
    connector: options.connector,
    deviceId,
    token: options.token,
    hostname: host,
    port,
    transport: () => agent.state.transport,
    onTunnelError: (error) =>
      log(
        `device ${deviceId}: MQTT tunnel ended: ${error.code}: ${error.message}`,
      ),
  });
  const addr = listener.listen();
  log(
    `device ${deviceId}: MQTT listener on ${
      formatHostPort(addr.hostname, addr.port)
    }`,
  );
  return listener;
}
