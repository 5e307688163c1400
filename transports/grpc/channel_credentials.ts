// TLS (or plaintext) credentials for a grpc-js channel, shared by the relay
// connectors and the device's gRPC target client.
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { isIP } from "node:net";
import { checkServerIdentity } from "node:tls";
import { hostOf } from "../../src/config/host_port.ts";

export interface ChannelSecurity {
  /** host:port the channel dials. */
  address: string;
  /** PEM of the CA to trust (else the system roots); ignored with `insecure`. */
  caPem?: string;
  /** Plaintext HTTP/2. */
  insecure?: boolean;
  /** TLS server name when it differs from the host in `address`. */
  serverName?: string;
}

/** SNI sent for IP targets; the certificate is checked against the IP itself. */
const IP_PLACEHOLDER_NAME = "ip-address.invalid";

/** The credentials and the channel options they need (the server name override). */
export function channelCredentials(security: ChannelSecurity): {
  credentials: grpc.ChannelCredentials;
  channelOptions: grpc.ChannelOptions;
} {
  if (security.insecure) {
    return {
      credentials: grpc.credentials.createInsecure(),
      channelOptions: {},
    };
  }
  const host = hostOf(security.address);
  const ipTarget = isIP(host) !== 0 && security.serverName === undefined;
  const credentials = grpc.credentials.createSsl(
    security.caPem ? Buffer.from(security.caPem) : null,
    null,
    null,
    // Deno's TLS refuses an IP address as server name (SNI), so an IP
    // target gets a placeholder name and is verified against the IP.
    ipTarget
      ? {
        checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert),
      }
      : {},
  );
  const serverName = security.serverName ??
    (ipTarget ? IP_PLACEHOLDER_NAME : undefined);
  return {
    credentials,
    channelOptions: serverName
      ? { "grpc.ssl_target_name_override": serverName }
      : {},
  };
}
