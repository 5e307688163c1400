// Where the relay's external broker is (relay.mqtt.broker_address and
// relay.mqtt.tls), and how to open a socket to it: node:net/tls for the
// relay's own mqtt.js client (its stream builder is synchronous), Deno's
// sockets for BrokerDialer connections.
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { RelayConfig } from "../config/config_schema.ts";
import { parseHostPort } from "../config/host_port.ts";
import { RelayError } from "../errors/relay_error.ts";
import { readConfigFile } from "../config/read_config_file.ts";

export interface BrokerTarget {
  /** The configured URL, for logs and /health. */
  url: string;
  host: string;
  port: number;
  /** PEMs for mqtts://; null for plain mqtt://. */
  tls: { caPem?: string; certPem?: string; keyPem?: string } | null;
}

const DEFAULT_PORTS = { "mqtt:": 1883, "mqtts:": 8883 } as const;

/** Parses relay.mqtt.broker_address and reads the TLS files it needs. */
export async function loadBrokerTarget(
  mqtt: RelayConfig["relay"]["mqtt"],
): Promise<BrokerTarget> {
  const url = new URL(mqtt.broker_address);
  const protocol = url.protocol as keyof typeof DEFAULT_PORTS;
  const { host, port } = parseHostPort(url.host, {
    defaultPort: DEFAULT_PORTS[protocol],
    what: "config key relay.mqtt.broker_address",
  });
  if (protocol === "mqtt:") {
    return { url: mqtt.broker_address, host, port, tls: null };
  }
  const { ca_path, cert_path, key_path } = mqtt.tls;
  if ((cert_path === "") !== (key_path === "")) {
    throw new RelayError(
      "INVALID_REQUEST",
      "config key relay.mqtt.tls.cert_path: set together with relay.mqtt.tls.key_path",
    );
  }
  return {
    url: mqtt.broker_address,
    host,
    port,
    tls: {
      ...(ca_path !== ""
        ? { caPem: await readConfigFile(ca_path, "relay.mqtt.tls.ca_path") }
        : {}),
      ...(cert_path !== ""
        ? {
          certPem: await readConfigFile(cert_path, "relay.mqtt.tls.cert_path"),
          keyPem: await readConfigFile(key_path, "relay.mqtt.tls.key_path"),
        }
        : {}),
    },
  };
}

/** A socket to the broker as a node stream (for mqtt.js). */
export function openNodeSocket(target: BrokerTarget): Duplex {
  if (target.tls === null) {
    return net.connect({ host: target.host, port: target.port, noDelay: true });
  }
  const socket = tls.connect({
    host: target.host,
    port: target.port,
    // SNI takes host names only.
    ...(net.isIP(target.host) === 0 ? { servername: target.host } : {}),
    ...(target.tls.caPem !== undefined ? { ca: target.tls.caPem } : {}),
    ...(target.tls.certPem !== undefined
      ? { cert: target.tls.certPem, key: target.tls.keyPem }
      : {}),
    minVersion: "TLSv1.2",
  });
  // Small QoS 1 publications must not wait for Nagle's algorithm.
  socket.setNoDelay(true);
  return socket;
}

/** A socket to the broker as a Deno connection (web streams). */
export async function openDenoSocket(target: BrokerTarget): Promise<Deno.Conn> {
  if (target.tls === null) {
    const conn = await Deno.connect({
      hostname: target.host,
      port: target.port,
    });
    conn.setNoDelay(true);
    return conn;
  }
  return await Deno.connectTls({
    hostname: target.host,
    port: target.port,
    ...(target.tls.caPem !== undefined ? { caCerts: [target.tls.caPem] } : {}),
    ...(target.tls.certPem !== undefined && target.tls.keyPem !== undefined
      ? { cert: target.tls.certPem, key: target.tls.keyPem }
      : {}),
  });
}
