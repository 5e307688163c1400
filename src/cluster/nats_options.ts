// How a relay authenticates to NATS and secures the connection
// (relay.cluster.tls and credentials): read once at start, so a missing or
// unreadable file fails with the config key that names it, not later inside
// the NATS client. Secrets end up in the connection options only, never in a
// message or a log line.
import {
  credsAuthenticator,
  type NodeConnectionOptions,
} from "@nats-io/transport-node";
import type { RelayConfig } from "../config/config_schema.ts";
import { readConfigFile } from "../config/read_config_file.ts";

/** The security part of the NATS connection options. */
export type NatsSecurity = Pick<
  NodeConnectionOptions,
  "tls" | "user" | "pass" | "token" | "authenticator"
>;

export async function natsSecurity(
  cluster: RelayConfig["relay"]["cluster"],
): Promise<NatsSecurity> {
  const security: NatsSecurity = {};
  const { ca_path, cert_path, key_path } = cluster.tls;
  if (ca_path !== "" || cert_path !== "") {
    // Either one makes the client require TLS, whatever the URL's scheme.
    security.tls = {
      ...(ca_path !== ""
        ? { ca: await readConfigFile(ca_path, "relay.cluster.tls.ca_path") }
        : {}),
      ...(cert_path !== ""
        ? {
          cert: await readConfigFile(cert_path, "relay.cluster.tls.cert_path"),
          key: await readConfigFile(key_path, "relay.cluster.tls.key_path"),
        }
        : {}),
    };
  }
  if (cluster.creds_path !== "") {
    const creds = new TextEncoder().encode(
      await readConfigFile(cluster.creds_path, "relay.cluster.creds_path"),
    );
    security.authenticator = credsAuthenticator(creds);
  } else if (cluster.username !== "") {
    security.user = cluster.username;
    security.pass = cluster.password;
  } else if (cluster.token !== "") {
    security.token = cluster.token;
  }
  return security;
}

/** The servers as they may be shown: without any user:password@ part. */
export function redactedServers(servers: readonly string[]): string {
  return servers.map((server) => server.replace(/\/\/[^@/]*@/, "//"))
    .join(", ");
}
