// A TLS certificate for a device's local gRPC server, from a CA of its own
// (not the relay's): the agent must verify it with the CA and server name
// given to its gRPC target.
import { createDevCa, issueServerCertificate } from "../../src/tls/dev_pki.ts";

export const TARGET_SERVER_NAME = "device-server.test";

export interface TargetTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export async function targetTls(): Promise<TargetTls> {
  const ca = await createDevCa();
  const server = await issueServerCertificate(ca, {
    hosts: [TARGET_SERVER_NAME],
  });
  return {
    caPem: ca.caCertPem,
    certPem: server.serverCertPem,
    keyPem: server.serverKeyPem,
  };
}
