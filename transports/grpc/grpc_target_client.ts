// The device's own gRPC server as a GrpcTarget (src/sdk/grpc_target.ts):
// grpc-js calls any method with bytes in and out (identity serializers), so
// the agent forwards calls without knowing the server's protos.
import * as grpc from "@grpc/grpc-js";
import type { GrpcTarget } from "../../src/sdk/grpc_target.ts";
import { channelCredentials } from "./channel_credentials.ts";
import { GRPC_RECONNECT_BACKOFF_MS } from "./grpc_connectors.ts";
import { rawClientCall } from "./raw_client_call.ts";

export interface GrpcTargetOptions {
  /** host:port of the device's gRPC server (plaintext unless caPem, serverName or tls). */
  address: string;
  /** PEM of the CA that issued the server's certificate; implies TLS. */
  caPem?: string;
  /** TLS server name when it differs from the host in `address`; implies TLS. */
  serverName?: string;
  /** TLS against the system roots. */
  tls?: boolean;
}

export function grpcTarget(options: GrpcTargetOptions): GrpcTarget {
  const tls = options.tls === true || options.caPem !== undefined ||
    options.serverName !== undefined;
  const { credentials, channelOptions } = channelCredentials({
    ...options,
    insecure: !tls,
  });
  // The channel dials on the first call and redials after the server restarts.
  let client: grpc.Client | undefined;
  const open = () =>
    client ??= new grpc.Client(options.address, credentials, {
      ...channelOptions,
      // The relay bounds message sizes; the server applies its own.
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": -1,
      // A restarted server is reached again within this, not grpc-js's 120 s.
      "grpc.initial_reconnect_backoff_ms": GRPC_RECONNECT_BACKOFF_MS,
      "grpc.max_reconnect_backoff_ms": 1000,
    });
  return {
    address: options.address,
    call: (head) =>
      rawClientCall(
        open(),
        head,
        (details) => `device's gRPC target ${options.address}: ${details}`,
      ),
    close() {
      client?.close();
      client = undefined;
    },
  };
}
