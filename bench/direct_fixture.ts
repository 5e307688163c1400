// The reference path: the same controller SDK talking to the bare grpc-js
// echo server, no relay and no device agent in between.
import { ControllerClient, controllerConnector } from "../mod.ts";
import type { DeviceCallSession } from "../src/sdk/controller_client.ts";
import { type DirectTls, startDirectEchoServer } from "./direct_echo_server.ts";

export interface DirectFixture {
  session: DeviceCallSession;
  close(): Promise<void>;
}

/** `tls: null` uses plaintext HTTP/2 on both ends. */
export async function startDirectFixture(
  tls: DirectTls | null,
): Promise<DirectFixture> {
  const server = await startDirectEchoServer(tls);
  const client = new ControllerClient({
    connector: controllerConnector(
      tls === null
        ? { address: server.address, insecure: true }
        : { address: server.address, caPem: tls.caPem },
    ),
    token: "",
    // A bare echo server, no relay: no device keys to encrypt to.
    e2e: false,
  });
  const session = client.openSession("bench-device");
  return {
    session,
    async close() {
      await session.close();
      await client.close();
      await server.close();
    },
  };
}
