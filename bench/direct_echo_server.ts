// Reference without a relay: a bare grpc-js server whose ConnectToDevice
// echoes every ControllerMessage back as a DeviceResponse on the same
// stream, so a controller talks "directly" to an echo device.
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import type { ControllerMessage__Output } from "../src/gen/relay/v1/ControllerMessage.ts";
import type { DeviceResponse } from "../src/gen/relay/v1/DeviceResponse.ts";
import { relayProto } from "../transports/grpc/relay_proto.ts";
import { widenFlowControlWindows } from "../transports/grpc/http2_servers.ts";

export interface DirectTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

export interface DirectEchoServer {
  /** 127.0.0.1:PORT (the SDK connector verifies loopback as "localhost"). */
  readonly address: string;
  close(): Promise<void>;
}

/** `tls: null` serves plaintext HTTP/2. */
export async function startDirectEchoServer(
  tls: DirectTls | null,
): Promise<DirectEchoServer> {
  const server = new grpc.Server({
    "grpc.max_receive_message_length": 8 * 1024 * 1024,
    "grpc.max_send_message_length": 8 * 1024 * 1024,
  });
  const handlers: grpc.UntypedServiceImplementation = {
    ConnectToDevice: (
      call: grpc.ServerDuplexStream<ControllerMessage__Output, DeviceResponse>,
    ) => {
      call.on("data", (message: ControllerMessage__Output) => {
        call.write({
          device_id: message.target_device_id,
          sequence_number: message.sequence_number,
          encrypted_payload: message.encrypted_payload,
          error: "OK",
        });
      });
      call.on("end", () => call.end());
      call.on("error", () => {
        // The client went away; nothing left to answer.
      });
    },
  };
  server.addService(relayProto().relay.v1.RelayService.service, handlers);
  // Explicit root certificates: without them grpc-js would load the huge
  // system CA list named by GRPC_DEFAULT_SSL_ROOTS_FILE_PATH.
  const credentials = tls === null
    ? grpc.ServerCredentials.createInsecure()
    : grpc.ServerCredentials.createSsl(Buffer.from(tls.caPem), [{
      cert_chain: Buffer.from(tls.certPem),
      private_key: Buffer.from(tls.keyPem),
    }]);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      "127.0.0.1:0",
      credentials,
      (error, bound) => error ? reject(error) : resolve(bound),
    );
  });
  // The relay's HTTP/2 windows, so the reference differs from it only by
  // the hop it saves.
  widenFlowControlWindows(server);
  return {
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
